"""PostgreSQL only: on django.contrib.auth's User, the login-address lookup of every sign-in
attempt (``email__iexact``, as ``accounts.users.get_by_email`` asks on this model) is served by
an index (migration ``accounts.0009``)."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import User as AuthUser
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

migration = importlib.import_module("accounts.migrations.0009_auth_user_email_index")


def plan() -> str:
    """How PostgreSQL finds an account by its login address, as the suite asks on this
    model, when reading the whole table is not an option it prefers."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return AuthUser._default_manager.filter(email__iexact="ann@example.com").explain()


def index_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [migration.INDEX])
        return cursor.fetchone() is not None


@pytest.fixture
def without_index():
    with connection.schema_editor() as editor:
        migration.drop_index(editor)
    yield
    with connection.schema_editor() as editor:
        migration.create_index(editor)  # as the migration left it


def test_the_migration_left_the_lookup_indexed():
    assert index_exists()
    assert migration.INDEX in plan()


def test_the_migration_indexes_the_lookup_on_djangos_user(without_index):
    assert migration.INDEX not in plan()

    with connection.schema_editor() as editor:
        migration.forwards(None, editor)
        migration.forwards(None, editor)  # once only, however often it runs

    assert index_exists()
    assert migration.INDEX in plan()

    with connection.schema_editor() as editor:
        migration.backwards(None, editor)
    assert not index_exists()


def test_on_another_user_model_the_migration_adds_nothing(without_index):
    with override_settings(AUTH_USER_MODEL="accounts.User"), connection.schema_editor() as editor:
        migration.forwards(None, editor)
    assert not index_exists()


@pytest.mark.django_db(transaction=True)
def test_migrating_builds_the_index_without_blocking_sign_ins():
    """Sign-ins write the user table (last_login): the migration builds and drops the index
    concurrently, so they go on meanwhile."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("accounts", "0008_addresses_in_normal_form")]
    try:
        with CaptureQueriesContext(connection) as back:
            executor.migrate(before)
        assert not index_exists()
        with CaptureQueriesContext(connection) as forth:
            MigrationExecutor(connection).migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert index_exists()
    statements = [q["sql"] for q in (*back, *forth) if migration.INDEX in q["sql"]]
    assert statements == [
        f"DROP INDEX CONCURRENTLY IF EXISTS {migration.INDEX}",
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {migration.INDEX} "
        f'ON "auth_user" (UPPER(email::text))',
    ]
