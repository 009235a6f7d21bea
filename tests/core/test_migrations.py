"""The suite's migrations as an operator runs them on a database in use: every app back to
zero and forward again with rows in its tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.apps import apps
from django.db import connection, connections
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


#: Tables a busy site writes on every sign-in, mail or request, and that grow large: a
#: migration must not hold a lock blocking their writes for longer than an instant.
BUSY_TABLES = {"authsuite_outboxmessage", "audit_event", "audit_eventseal", "audit_pendingseal",
               "accounts_user", "auth_user", "accounts_usersession", "accounts_loginthrottle",
               "django_session"}
INDEX_BUILD = re.compile(r'CREATE (?:UNIQUE )?INDEX (?!CONCURRENTLY).*? ON "?(\w+)"?', re.S)
REWRITE = re.compile(r'ALTER TABLE "?(\w+)"? ALTER COLUMN "?\w+"? TYPE', re.S)
VOLATILE_DEFAULT = re.compile(r'ALTER TABLE "?(\w+)"? ADD COLUMN .*DEFAULT \(?\s*'
                              r"(?:now|statement_timestamp|clock_timestamp|random|gen_random_uuid)"
                              r"\s*\(", re.S | re.I)


def forward_sql() -> dict[str, list[str]]:
    """The statements each of the suite's migrations runs forwards on this database, as
    ``sqlmigrate`` prints them."""
    loader = MigrationExecutor(connection).loader
    return {f"{app_label}.{name}": loader.collect_sql([(loader.graph.nodes[app_label, name], False)])
            for app_label, name in sorted(loader.disk_migrations) if app_label in SUITE_APPS}


@pytest.mark.postgres
@pytest.mark.django_db
def test_no_migration_blocks_writes_to_a_busy_table_on_postgresql():
    blocking = []
    for migration, statements in forward_sql().items():
        created = {m.group(1) for s in statements
                   for m in re.finditer(r'CREATE TABLE "?(\w+)"?', s)}
        for statement in statements:
            for pattern in (INDEX_BUILD, REWRITE, VOLATILE_DEFAULT):
                for match in pattern.finditer(statement):
                    table = match.group(1)
                    if table in BUSY_TABLES and table not in created:
                        blocking.append((migration, statement))
    assert blocking == []


def rows_of_the_first_release() -> dict:
    """For each table that gained a NOT NULL column after its first release, a row as the
    first release's code inserts it: without those columns."""
    from django.utils import timezone

    from tests.factories import UserFactory

    now = timezone.now()
    return {
        "authsuite.OutboxMessage": {
            "template": "accounts/email/magic_link", "to": "ann@example.com", "context": {},
            "sealed_context": "", "status": "pending", "attempts": 0, "next_attempt_at": now,
            "last_error": "", "created_at": now},
        "accounts.LoginThrottle": {"identifier": "ann@example.com", "ip": "", "failures": 1,
                                   "lockouts": 0, "last_failure_at": now},
        "mfa.TrustedBrowser": {"user": UserFactory().pk, "digest": "d" * 64, "device": "",
                               "created_at": now, "expires_at": now},
        "audit.ChainHead": {"seq": 0, "hash": "0" * 64, "checkpoint_seq": 0},
    }


def older_code_inserts() -> dict:
    """Insert each row of the first release as its code did, column by column; the values
    the database gave the columns it did not name."""
    from authsuite import db

    found = {}
    for label, values in rows_of_the_first_release().items():
        model = apps.get_model(label)
        pk = db.insert(model, using="default", values=values)
        added = [f.name for f in model._meta.concrete_fields
                 if f.column not in {model._meta.get_field(n).column for n in values}
                 and not f.primary_key and not f.null]
        found[label] = model._base_manager.filter(pk=pk).values(*added).get()
    return found


ADDED_COLUMNS = {
    "authsuite.OutboxMessage": {"secret_erased": False, "resolver": "", "guard": "",
                                "language": ""},
    "accounts.LoginThrottle": {"consecutive_failures": 0},
    "mfa.TrustedBrowser": {"user_agent": ""},
    "audit.ChainHead": {"signature": ""},
}


@pytest.mark.django_db
def test_the_previous_code_still_inserts_rows_once_the_columns_are_added():
    """During a rolling upgrade the previous version's processes run on the migrated
    database until they are replaced: the columns added since fill with their default."""
    assert older_code_inserts() == ADDED_COLUMNS


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_previous_code_still_inserts_rows_once_the_columns_are_added_on_postgresql():
    assert older_code_inserts() == ADDED_COLUMNS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_mail_is_queued_while_the_outbox_recipient_index_is_built():
    """authsuite 0007 builds its index on the outbox while sign-ups go on queueing mail: it
    waits for the transactions already writing the table, new writes do not wait for it."""
    from authsuite.models import OutboxMessage

    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    insert = (f'INSERT INTO {table} (template, "to", context, sealed_context, status, attempts, '  # noqa: S608
              "next_attempt_at, last_error, created_at, secret_erased, resolver, guard, language) "
              "VALUES ('t', 'ann@example.com', '{}', '', 'pending', 0, now(), '', now(), false, "
              "'', '', '')")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([("authsuite", "0006_outbox_language")])
    writing, queueing = connection.copy(), connection.copy()
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            MigrationExecutor(connections["default"]).migrate(
                [("authsuite", "0007_outbox_recipient_index")])
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    build = threading.Thread(target=migrate)
    try:
        with writing.cursor() as cursor, queueing.cursor() as other:
            cursor.execute("BEGIN")  # a sign-up's transaction, open during the build
            cursor.execute(insert)
            build.start()
            waiting = False
            for _ in range(200):  # the build waits for that transaction to end
                other.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND query LIKE %s", ["%authsuite_outbox_recipient%"])
                if waiting := other.fetchone() is not None:
                    break
                time.sleep(0.05)
            assert waiting
            other.execute("SET lock_timeout = '2s'")
            other.execute(insert)  # meanwhile another sign-up queues its mail
            cursor.execute("COMMIT")
        build.join(30)
        assert not build.is_alive() and errors == []
        assert "authsuite_outbox_recipient" in {
            name for name, info in connection.introspection.get_constraints(
                connection.cursor(), OutboxMessage._meta.db_table).items() if info["index"]}
    finally:
        writing.close()
        queueing.close()
        if build.ident is not None:
            build.join(30)
        MigrationExecutor(connection).migrate(latest)


def session_indexes() -> set[tuple[str, ...]]:
    """The column lists of the tracked sessions' indexes (the primary key's aside)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "accounts_usersession")
    return {tuple(c["columns"]) for c in found.values() if c["index"] and not c["primary_key"]}


def _session_indexes_check() -> None:
    # Each sign-in inserts a row: an index no query uses is one more write per sign-in.
    # The key's digest is never looked up, and (user, ended_at) serves every lookup by user.
    indexes = session_indexes()
    assert ("user_id", "ended_at") in indexes
    assert not {("key_digest",), ("user_id",)} & indexes, indexes


@pytest.mark.django_db
def test_a_tracked_session_row_is_written_to_no_index_nothing_reads():
    _session_indexes_check()


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_tracked_session_row_is_written_to_no_index_nothing_reads_on_postgresql():
    _session_indexes_check()
    with connection.cursor() as cursor:  # nor the pattern index PostgreSQL adds to a varchar
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'accounts_usersession'")
        assert not [name for (name,) in cursor.fetchall() if name.endswith("_like")]
