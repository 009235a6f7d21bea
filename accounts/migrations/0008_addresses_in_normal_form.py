"""Addresses stored before the normal form folded Unicode compatibility forms and
internationalized domains (``accounts.models.normalize_email``) are rewritten in it, so they
are found again by what people type. A row whose normal form another row already holds
keeps its spelling: two accounts are never merged by a migration."""

from django.conf import settings
from django.db import migrations

from accounts.models import normalize_email  # a pure function of the text


def _rewrite(model, field: str, db: str) -> None:
    """Rewrite ``field`` of every row whose value is not in the normal form, unless another
    row holds the normal form already (in database ``db``, the one being migrated)."""
    rows = model._base_manager.using(db)
    rewrites = [
        (pk, normal) for pk, value in rows.values_list("pk", field).iterator()
        if value and (normal := normalize_email(value)) != value
    ]
    for pk, normal in rewrites:
        if not rows.filter(**{field: normal}).exclude(pk=pk).exists():
            rows.filter(pk=pk).update(**{field: normal})


def forwards(apps, schema_editor):
    db = schema_editor.connection.alias
    if settings.AUTH_USER_MODEL == "accounts.User":
        _rewrite(apps.get_model("accounts", "User"), "email", db)
    _rewrite(apps.get_model("accounts", "EmailAddress"), "email", db)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reauthenticate_token_purpose"),
    ]

    operations = [
        # Backwards the addresses keep their normal form: their earlier spelling is not
        # kept anywhere to go back to.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
