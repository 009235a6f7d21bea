"""Retention: the periodic task prunes old events and the chain still verifies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from audit import chain, tasks
from audit.models import Checkpoint, Event, EventSeal
from tests.audit.support import assert_fails_at, data, raw, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(time_machine):
    """Five events 400 days old (with a checkpoint), then three recent ones."""
    now = timezone.now()
    time_machine.move_to(now - timedelta(days=400), tick=False)
    old = write(5, actor_repr="old")
    chain.checkpoint()
    time_machine.move_to(now, tick=False)
    recent = write(3, actor_repr="recent")
    return old, recent


def test_the_task_prunes_old_events_and_leaves_an_anchor(history):
    old, recent = history
    assert tasks.prune.delay().get() == 5
    assert not Event.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert not EventSeal.objects.filter(seq__lte=5).exists()
    assert set(Event.objects.filter(pk__in=[e.pk for e in recent]).values_list(
        "actor_repr", flat=True)) == {"recent"}
    anchor = Event.objects.get(action=chain.RETENTION_ACTION)
    assert anchor.actor_repr == "system"
    assert data(anchor)["resume_seq"] == 6
    assert data(anchor)["pruned_up_to_seq"] == 5
    assert data(anchor)["events"] == 5
    chain.seal_all()
    report = chain.verify()
    assert report.ok, report.problems
    assert report.checked == 4  # three recent events and the anchor
    assert Checkpoint.objects.filter(seq=5).exists()  # checkpoints stay, still signed


def test_deleting_more_after_a_prune_is_still_caught(history):
    old, recent = history
    tasks.prune.delay()
    chain.seal_all()
    raw("DELETE FROM audit_eventseal WHERE event_id = %s", [recent[0].pk])
    raw("DELETE FROM audit_event WHERE id = %s", [recent[0].pk])
    assert_fails_at(recent[1].pk, problem="with no retention anchor")


def test_an_anchor_cannot_be_edited_to_cover_a_deletion(history):
    old, recent = history
    tasks.prune.delay()
    chain.seal_all()
    anchor = Event.objects.get(action=chain.RETENTION_ACTION)
    raw("DELETE FROM audit_eventseal WHERE event_id = %s", [recent[0].pk])
    raw("DELETE FROM audit_event WHERE id = %s", [recent[0].pk])
    second = EventSeal.objects.get(event=recent[1])
    raw("UPDATE audit_event SET data = %s WHERE id = %s", [
        f'{{"resume_seq":{second.seq},"resume_prev_hash":"{second.prev_hash}"}}', anchor.pk])
    report = chain.verify()
    assert not report.ok
    assert any(f"event {anchor.pk}: content does not match its MAC" in p
               for p in report.problems)


def test_a_later_prune_takes_the_old_anchor_along(history, time_machine):
    tasks.prune.delay()
    chain.seal_all()
    time_machine.shift(timedelta(days=400))
    write(2)
    assert tasks.prune.delay().get() == 4  # three events and the first anchor
    chain.seal_all()
    assert Event.objects.filter(action=chain.RETENTION_ACTION).count() == 1
    assert chain.verify().ok


@override_settings(AUTHSUITE_AUDIT_RETENTION_DAYS=None)
def test_no_retention_keeps_everything(history):
    assert tasks.prune.delay().get() == 0
    assert Event.objects.count() == 8


@override_settings(AUTHSUITE_AUDIT_RETENTION_DAYS=500)
def test_the_retention_age_is_a_setting(history):
    assert tasks.prune.delay().get() == 0
    with override_settings(AUTHSUITE_AUDIT_RETENTION_DAYS=300):
        assert tasks.prune.delay().get() == 5


def test_the_last_link_is_never_pruned(time_machine):
    now = timezone.now()
    time_machine.move_to(now - timedelta(days=400), tick=False)
    write(3)
    time_machine.move_to(now, tick=False)
    assert chain.prune() == 0
    assert EventSeal.objects.count() == 3
    assert chain.verify().ok


def test_events_waiting_to_be_chained_are_chained_before_pruning(time_machine):
    now = timezone.now()
    time_machine.move_to(now - timedelta(days=400), tick=False)
    write(2, seal=False)
    time_machine.move_to(now, tick=False)
    write(1, seal=False)
    assert chain.prune() == 2
    chain.seal_all()
    assert chain.verify().ok


def test_a_forged_anchor_does_not_explain_a_deleted_prefix(history):
    """An intruder deletes the oldest events and inserts an anchor of their own."""
    import uuid

    from django.db import connection

    old, recent = history
    for event in old:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    first = EventSeal.objects.get(event=recent[0])
    values = {"uid": uuid.uuid4(), "occurred_at": timezone.now(), "action": chain.RETENTION_ACTION,
              "data": f'{{"resume_prev_hash":"{first.prev_hash}","resume_seq":{first.seq}}}',
              "mac": "0" * 64, "actor_repr": "system"}
    fields = [Event._meta.get_field(name) for name in values]
    raw(f"INSERT INTO audit_event ({', '.join(f.column for f in fields)}, actor_id, outcome, "
        f"target_type, target_id, target_repr, ip, user_agent, request_id, session_ref) "
        f"VALUES ({', '.join(['%s'] * len(fields))}, '', 'success', '', '', '', '', '', '', '')",
        [f.get_db_prep_save(values[f.name], connection) for f in fields])
    report = chain.verify()
    assert not report.ok
    assert report.first_bad == recent[0].pk
    assert any("with no retention anchor" in p for p in report.problems)
