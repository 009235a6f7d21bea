"""Undecided link requests written before requests expired get the expiry a request gets
now: its time plus the lifetime of the link it asked for (the purpose's setting, as it reads
when this runs). One still undecided past it is then dropped undecided, as a newer one is,
instead of being answered with a fresh link long after it was asked for."""

from datetime import timedelta

from django.db import migrations

RESOLVER = "accounts.link_request"
TIMEOUTS = {"magic_link": "MAGIC_LINK_TIMEOUT", "password_reset": "PASSWORD_RESET_TIMEOUT"}


def expire_undecided_requests(apps, schema_editor):
    from accounts.app_settings import app_settings

    # The database being migrated (migrate --database), not the default one.
    rows = apps.get_model("authsuite", "OutboxMessage").objects.using(schema_editor.connection.alias)
    undecided = rows.filter(
        resolver=RESOLVER, expires_at__isnull=True, status__in=("pending", "sending"))
    for message in undecided.only("pk", "created_at", "context").iterator():
        asked = message.context if isinstance(message.context, dict) else {}
        purpose = asked.get("purpose")
        # A purpose this version does not know: the shorter lifetime of the two.
        lifetime = (getattr(app_settings, TIMEOUTS[purpose]) if purpose in TIMEOUTS
                    else min(getattr(app_settings, name) for name in TIMEOUTS.values()))
        rows.filter(pk=message.pk, expires_at__isnull=True).update(
            expires_at=message.created_at + timedelta(seconds=lifetime))


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0010_password_rehash"),
        ("authsuite", "0005_outbox_guard"),
    ]

    operations = [
        # Backwards the requests keep their expiry: the column is the outbox's
        # (authsuite 0003) and stays.
        migrations.RunPython(expire_undecided_requests, migrations.RunPython.noop,
                             elidable=True),
    ]
