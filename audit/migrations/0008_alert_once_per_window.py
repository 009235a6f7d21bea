from django.db import migrations, models


def fill_windows(apps, schema_editor):
    """Existing rows get the window of their sent_at; the rare pair a race left in one window
    keeps its first row there and moves the others to windows of their own (-id)."""
    from audit.app_settings import app_settings

    AlertSent = apps.get_model("audit", "AlertSent")
    throttle = app_settings.ALERT_THROTTLE
    if throttle <= 0:
        return  # nothing is throttled: every row keeps a NULL window, and NULLs never collide
    seen = set()
    for row in AlertSent.objects.using(schema_editor.connection.alias).order_by("pk").iterator():
        window = int(row.sent_at.timestamp()) // throttle
        slot = (row.rule, row.user_id, row.key, window)
        row.window = window if slot not in seen else -row.pk
        seen.add(slot)
        row.save(update_fields=["window"])


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0007_alert_opt_out"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertsent",
            name="window",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        # Backwards nothing to undo: the window column is removed with its values.
        migrations.RunPython(fill_windows, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="alertsent",
            constraint=models.UniqueConstraint(fields=("rule", "user_id", "key", "window"),
                                               name="audit_alert_once_per_window"),
        ),
    ]
