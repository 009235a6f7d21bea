from django.db import migrations, models
from django.utils import timezone


def void_all_but_newest(apps, schema_editor):
    """Two requests at once could leave an address two live links: keep the newer."""
    PendingSignup = apps.get_model("passkeys", "PendingSignup")
    live = PendingSignup.objects.using(schema_editor.connection.alias).filter(
        used_at__isnull=True, voided_at__isnull=True)
    newest = {}
    for pk, email in live.order_by("email", "-created_at", "-pk").values_list("pk", "email"):
        newest.setdefault(email, pk)
    live.exclude(pk__in=list(newest.values())).update(voided_at=timezone.now())


class Migration(migrations.Migration):

    dependencies = [
        ("passkeys", "0002_pending_signups"),
    ]

    operations = [
        # Backwards the voided links stay voided: reviving them would give an address two
        # live links again.
        migrations.RunPython(void_all_but_newest, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="pendingsignup",
            constraint=models.UniqueConstraint(
                condition=models.Q(("used_at__isnull", True), ("voided_at__isnull", True)),
                fields=("email",), name="passkeys_pending_one_live_per_email",
            ),
        ),
    ]
