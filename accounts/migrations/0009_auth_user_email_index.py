"""On django.contrib.auth's User, the login address is found case-insensitively
(``email__iexact``: ``UPPER(email) = UPPER(%s)`` on PostgreSQL), for every sign-in attempt,
known address or not. Its table has no index that serves that, so each attempt would read the
whole table. This adds one, on PostgreSQL, where the lookup can use it. The suite's own
User stores addresses in their normal form and is found by an exact match on its unique
column instead.

The index is built with CREATE INDEX CONCURRENTLY when the migration runs (it is not atomic
for that), so that sign-ins, which write the table (``last_login``), go on during the build;
run inside a transaction, as a test may, it is built plainly. Changed after release from a
plain build; the index it leaves is the same."""

from django.conf import settings
from django.db import migrations

INDEX = "accounts_auth_user_email_upper"


def applies(schema_editor) -> bool:
    return (settings.AUTH_USER_MODEL == "auth.User"
            and schema_editor.connection.vendor == "postgresql")


def _concurrently(schema_editor) -> str:
    return "" if schema_editor.connection.in_atomic_block else "CONCURRENTLY "


def create_index(schema_editor) -> None:
    table = schema_editor.quote_name("auth_user")
    schema_editor.execute(f"CREATE INDEX {_concurrently(schema_editor)}IF NOT EXISTS {INDEX} "
                          f"ON {table} (UPPER(email::text))")


def drop_index(schema_editor) -> None:
    schema_editor.execute(f"DROP INDEX {_concurrently(schema_editor)}IF EXISTS {INDEX}")


def forwards(apps, schema_editor):
    if applies(schema_editor):
        create_index(schema_editor)


def backwards(apps, schema_editor):
    if applies(schema_editor):
        drop_index(schema_editor)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("accounts", "0008_addresses_in_normal_form"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
