"""Migration operations that add and remove indexes without blocking writes on PostgreSQL.

A plain ``CREATE INDEX`` holds a SHARE lock on its table for the whole build: every INSERT,
UPDATE and DELETE waits, so on a large outbox or audit trail sign-ins and mail stall for as
long as the build takes. ``CREATE INDEX CONCURRENTLY`` takes SHARE UPDATE EXCLUSIVE, which
lets reads and writes go on, at the price of a slower build (two passes over the table) and
of running outside a transaction: a migration using these operations sets
``atomic = False``, and holds nothing else that needs one.

On other databases they are Django's ``AddIndex`` and ``RemoveIndex``, so the migrations run
on SQLite too; ``django.contrib.postgres.operations`` has PostgreSQL-only versions, which
would fail there (and need psycopg installed to import).

If a concurrent build is interrupted, PostgreSQL leaves an INVALID index under the name: drop
it (``DROP INDEX CONCURRENTLY <name>``) and run ``migrate`` again.
"""

from __future__ import annotations

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex, RemoveIndex


def concurrently(operation, schema_editor) -> bool:
    """Whether ``operation`` builds or drops its index concurrently on ``schema_editor``'s
    database: on PostgreSQL, where it refuses to run inside a transaction (printing the
    statements, as ``sqlmigrate`` does, runs nothing)."""
    if schema_editor.connection.vendor != "postgresql":
        return False
    if schema_editor.connection.in_atomic_block and not schema_editor.collect_sql:
        raise NotSupportedError(
            f"{operation.__class__.__name__} cannot run inside a transaction "
            "(set atomic = False on the migration).")
    return True


class _Concurrent:
    def describe(self) -> str:
        return f"{super().describe()} (concurrently on PostgreSQL)"

    def _options(self, schema_editor) -> dict:
        return {"concurrently": True} if concurrently(self, schema_editor) else {}


class AddIndexConcurrently(_Concurrent, AddIndex):
    """``AddIndex``, built without blocking writes on PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **self._options(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._options(schema_editor))


class RemoveIndexConcurrently(_Concurrent, RemoveIndex):
    """``RemoveIndex``, dropped without blocking reads and writes on PostgreSQL (and rebuilt
    so when migrating back)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **self._options(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, **self._options(schema_editor))
