"""The hash chain: recording, sealing, verification and tampering by raw SQL."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from audit import chain
from audit.models import Event, EventSeal

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[Event]:
    events = [chain.record(action="test.event", actor_repr=f"actor {i}", data={"i": i})
              for i in range(n)]
    chain.seal_all()
    return events


def test_login_is_recorded_and_chain_verifies(client, user, password):
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    chain.seal_all()
    event = Event.objects.get(action="accounts.login.succeeded")
    assert event.actor_id == str(user.pk)
    assert event.seal.seq >= 1
    report = chain.verify()
    assert report.ok, report.problems


def _raw(sql: str, params=()):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What an attacker with table access would do: switch the guard off for the
            # session. (Without this the trigger refuses the statement; tested elsewhere.)
            cursor.execute("SELECT set_config('authsuite.audit_retention', 'on', true)")
        cursor.execute(sql, params)


def _verify_fails_at(event_id: int | None):
    report = chain.verify()
    assert not report.ok
    assert report.first_bad == event_id, report.problems
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_modified_event_is_named():
    events = _events(5)
    _raw("UPDATE audit_event SET actor_repr = %s WHERE id = %s", ["mallory", events[2].pk])
    _verify_fails_at(events[2].pk)


def test_deleted_event_breaks_the_chain():
    events = _events(5)
    _raw("DELETE FROM audit_eventseal WHERE event_id = %s", [events[2].pk])
    _raw("DELETE FROM audit_event WHERE id = %s", [events[2].pk])
    _verify_fails_at(events[3].pk)


def test_reordered_events_break_the_chain():
    events = _events(5)
    a, b = EventSeal.objects.get(event=events[1]), EventSeal.objects.get(event=events[3])
    _raw("UPDATE audit_eventseal SET seq = -1 WHERE id = %s", [a.pk])
    _raw("UPDATE audit_eventseal SET seq = %s WHERE id = %s", [a.seq, b.pk])
    _raw("UPDATE audit_eventseal SET seq = %s WHERE id = %s", [b.seq, a.pk])
    _verify_fails_at(events[3].pk)


def test_clean_chain_passes_the_command(capsys):
    _events(3)
    call_command("audit_verify")
    assert "OK: 3 events" in capsys.readouterr().out
