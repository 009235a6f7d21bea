"""The suite's migrations as an operator runs them on a database in use: every app back to
zero and forward again with rows in its tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.core.migration_rows import write_rows

SUITE_APPS = ["authsuite", "accounts", "mfa", "passkeys", "audit"]


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def suite_tables(label: str) -> set[str]:
    return {model._meta.db_table for model in apps.get_app_config(label).get_models()
            if model._meta.managed and not model._meta.swapped}


def there_and_back(label: str) -> None:
    """Write rows through the flows, migrate ``label`` to zero and every app forward to its
    latest migration again."""
    write_rows()
    counts = {table: 0 for table in suite_tables(label)}
    with connection.cursor() as cursor:
        for table in counts:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    assert any(counts.values()), counts  # there were rows to migrate over

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([(label, None)])
        assert not suite_tables(label) & tables()
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert suite_tables(label) <= tables()
    assert not MigrationExecutor(connection).migration_plan(latest)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("label", SUITE_APPS)
def test_each_app_migrates_to_zero_and_back_with_rows(label):
    there_and_back(label)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("label", SUITE_APPS)
def test_each_app_migrates_to_zero_and_back_with_rows_on_postgresql(label):
    there_and_back(label)
