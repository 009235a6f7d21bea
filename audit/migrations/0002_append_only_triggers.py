"""On PostgreSQL, the event and seal tables refuse UPDATE and DELETE.

Only the retention task may delete, and it says so by setting ``authsuite.audit_retention``
for its own transaction. Anyone else (a raw SQL session, a bug, an ORM call) gets an error.
TRUNCATE is left to database privileges (revoke it from the application's role); like
every other change it is caught by ``audit_verify``, through the head and the checkpoints.
Other databases have no such guard; ``audit_verify`` detects tampering on all of them.
"""

from django.db import migrations

TABLES = ["audit_event", "audit_eventseal"]

CREATE = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('authsuite.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # No parameters: the function body's '%' placeholders are PL/pgSQL's, not the driver's.
    schema_editor.execute(CREATE, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            params=None,
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                              params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_append_only()", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_events_chain_checkpoints")]
    operations = [migrations.RunPython(forwards, backwards)]
