"""Lockout pairs written with a client's full IPv6 address are moved to the key the
suite counts clients by now (``authsuite.context.limit_key``: an IPv6 address by its /64,
an IPv6 address carrying an IPv4 client by that IPv4 address). Pairs that meet under one
key are merged, keeping the worst of each count and time, so no lock is lifted by the
move."""

from django.db import migrations


def _later(a, b):
    return b if a is None or (b is not None and b > a) else a


def forwards(apps, schema_editor):
    from authsuite.context import limit_key

    # The database being migrated (migrate --database), not the default one.
    rows = apps.get_model("accounts", "LoginThrottle").objects.using(schema_editor.connection.alias)
    for row in rows.exclude(ip="").filter(ip__contains=":").order_by("pk"):
        key = limit_key(row.ip)  # "unknown" and other non-addresses stay as they are
        if key == row.ip:
            continue
        kept = rows.filter(identifier=row.identifier, ip=key).first()
        if kept is None:
            row.ip = key
            row.save(update_fields=["ip"])
            continue
        kept.failures = max(kept.failures, row.failures)
        kept.lockouts = max(kept.lockouts, row.lockouts)
        kept.locked_until = _later(kept.locked_until, row.locked_until)
        kept.last_failure_at = _later(kept.last_failure_at, row.last_failure_at)
        kept.save(update_fields=["failures", "lockouts", "locked_until", "last_failure_at"])
        row.delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_signup_token_purpose")]
    # Backwards, the pairs stay under their network's key: merged rows cannot be split
    # again, and the older code reads them as pairs of an address it never sees, so their
    # counts are forgotten (no lock is added by going back).
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
