"""The chain head gets a signature; on PostgreSQL, checkpoints become append-only too."""

from django.db import migrations, models

TABLE = "audit_checkpoint"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The function comes from 0002: UPDATE refused always, DELETE outside retention.
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
        params=None,
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]
    operations = [
        migrations.AddField(
            model_name="chainhead",
            name="signature",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(forwards, backwards),
    ]
