"""PostgreSQL only: the append-only trigger, the database's canonical text, the exit code of
``audit_verify`` run as a command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from audit import canonical, chain
from audit.models import Checkpoint, Event, EventSeal
from tests.audit.support import raw, write

pytestmark = [pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def _refused(sql: str, params=()) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return str(caught.value)


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["audit_event", "audit_eventseal", "audit_checkpoint"])
def test_raw_update_and_delete_are_refused(table):
    write(3)
    chain.checkpoint()
    message = _refused(f"UPDATE {table} SET id = id")
    assert f"append-only: UPDATE on {table} refused" in message
    message = _refused(f"DELETE FROM {table}")
    assert f"append-only: DELETE on {table} refused" in message
    assert Event.objects.count() == 3 and EventSeal.objects.count() == 3
    assert Checkpoint.objects.count() == 1


@pytest.mark.django_db
def test_the_orm_is_refused_too():
    write(2)
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.update(actor_repr="mallory")
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.all().delete()
    assert set(Event.objects.values_list("actor_repr", flat=True)) == {"actor 0", "actor 1"}


@pytest.mark.django_db
def test_the_retention_setting_allows_deleting_and_nothing_else():
    events = write(3)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [chain.RETENTION_GUC])
        assert "UPDATE on audit_event refused" in _refused(
            "UPDATE audit_event SET actor_repr = 'x' WHERE id = %s", [events[0].pk])
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_eventseal WHERE event_id = %s", [events[0].pk])
            cursor.execute("DELETE FROM audit_event WHERE id = %s", [events[0].pk])
    assert not Event.objects.filter(pk=events[0].pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("microsecond", [0, 1, 100, 250000, 123456, 999999])
def test_the_database_writes_the_canonical_time(microsecond, time_machine):
    moment = datetime(2026, 3, 29, 1, 30, 5, microsecond, tzinfo=UTC)
    time_machine.move_to(moment, tick=False)
    event = chain.record(action="test.time")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('DateStyle', 'ISO, YMD', true), "
                       "set_config('TimeZone', 'UTC', true)")
        cursor.execute("SELECT occurred_at::text FROM audit_event WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0] == canonical.timestamp(moment)
        # Whatever the session's own zone and date style, verification reads the same text.
        cursor.execute("SELECT set_config('DateStyle', 'SQL, DMY', true), "
                       "set_config('TimeZone', 'America/St_Johns', true)")
    chain.seal_all()
    assert chain.verify().ok


@pytest.mark.django_db
def test_text_beyond_ascii_verifies():
    chain.record(action="test.unicode", actor_repr="Zoë Ångström 山田 🎉",
                 target_repr="Ærøskøbing", user_agent="Navigateur «spécial»")
    chain.seal_all()
    report = chain.verify()
    assert report.ok, report.problems
    raw("UPDATE audit_event SET actor_repr = %s", ["Zoe Angstrom 山田 🎉"])
    assert not chain.verify().ok


def _command_env() -> dict:
    settings = connection.settings_dict
    auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    url = f"postgres://{auth}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/" \
          f"{settings['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_naming_the_first_bad_event():
    events = write(4)
    command = [sys.executable, "manage.py", "audit_verify", "--settings", "tests.settings"]
    fine = subprocess.run(command, cwd=ROOT, env=_command_env(), capture_output=True, text=True,
                          timeout=120)
    assert fine.returncode == 0, fine.stderr
    assert "OK: 4 events in the chain" in fine.stdout

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute("UPDATE audit_event SET data = '{}' WHERE id = %s", [events[1].pk])
        finally:
            cursor.execute("SET session_replication_role = origin")
    bad = subprocess.run(command, cwd=ROOT, env=_command_env(), capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0
    assert f"first bad event: {events[1].pk}" in bad.stderr
