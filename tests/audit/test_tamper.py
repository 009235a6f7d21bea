"""Tampering by raw SQL, each way, and what ``audit_verify`` says about it.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL (where ``raw`` first turns the
append-only trigger off, as an intruder with the owner's rights would).
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from audit import canonical, chain
from audit.models import ChainHead, Checkpoint, Event, EventSeal
from tests.audit.support import assert_fails_at, command_fails, raw, write

pytestmark = pytest.mark.django_db


def _forge(**overrides) -> int:
    """INSERT an event the way an intruder would: plausible columns, no audit key."""
    values = {
        "uid": uuid.uuid4(), "occurred_at": overrides.pop("occurred_at", None) or
        Event.objects.order_by("-pk").first().occurred_at,
        "actor_id": "1", "actor_repr": "admin@example.com", "action": "accounts.login.succeeded",
        "outcome": "success", "target_type": "", "target_id": "", "target_repr": "", "ip": "",
        "user_agent": "", "request_id": "", "session_ref": "", "data": "{}",
        "mac": hashlib.sha256(b"no key").hexdigest(), **overrides,
    }
    fields = [Event._meta.get_field(name) for name in values]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    raw(f"INSERT INTO audit_event ({columns}) VALUES ({', '.join(['%s'] * len(params))})",
        params)
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first()


def _seal(event: Event) -> EventSeal:
    return EventSeal.objects.get(event=event)


def _export() -> list[dict]:
    out = io.StringIO()
    call_command("audit_checkpoint", "--export", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_an_untouched_trail_verifies(capsys):
    write(5)
    chain.checkpoint()
    write(2)
    report = chain.verify()
    assert report.ok, report.problems
    assert (report.checked, report.checkpoints, report.pending) == (7, 1, 0)
    call_command("audit_verify")
    assert "OK: 7 events in the chain, 1 checkpoints, 0 waiting" in capsys.readouterr().out


@pytest.mark.parametrize("column, value", [
    ("actor_repr", "mallory@example.com"),
    ("actor_id", "999"),
    ("action", "accounts.logout"),
    ("outcome", "failure"),
    ("ip", "203.0.113.66"),
    ("user_agent", "curl/8"),
    ("target_repr", "someone else"),
    ("session_ref", "0000000000000000"),
    ("data", '{"i":42}'),
])
def test_a_modified_column_names_the_event(column, value):
    events = write(5)
    raw(f"UPDATE audit_event SET {column} = %s WHERE id = %s", [value, events[2].pk])
    assert_fails_at(events[2].pk, problem="does not match its MAC")


def test_a_modified_time_names_the_event():
    events = write(5)
    moved = events[2].occurred_at - timedelta(hours=3)
    raw("UPDATE audit_event SET occurred_at = %s WHERE id = %s",
        [connection.ops.adapt_datetimefield_value(moved), events[2].pk])
    assert_fails_at(events[2].pk, problem="does not match its MAC")


def test_a_modified_event_with_a_recomputed_mac_still_fails():
    """Without the audit key a new MAC is a guess: the event and its link both fail."""
    events = write(5)
    event = events[2]
    event.actor_repr = "mallory@example.com"
    wrong = canonical.event_mac([getattr(event, n) for n in canonical.FIELDS], b"guessed key")
    raw("UPDATE audit_event SET actor_repr = %s, mac = %s WHERE id = %s",
        [event.actor_repr, wrong, event.pk])
    assert_fails_at(event.pk, problem="link hash is wrong")


def test_a_deleted_event_names_the_next_one():
    events = write(5)
    raw("DELETE FROM audit_eventseal WHERE event_id = %s", [events[2].pk])
    raw("DELETE FROM audit_event WHERE id = %s", [events[2].pk])
    assert_fails_at(events[3].pk, problem="expected 3")


def test_a_deleted_event_cannot_be_hidden_by_renumbering_the_chain():
    """The intruder closes the gap and recomputes every later link, without the key."""
    events = write(5)
    raw("DELETE FROM audit_eventseal WHERE event_id = %s", [events[2].pk])
    raw("DELETE FROM audit_event WHERE id = %s", [events[2].pk])
    prev = _seal(events[1]).hash
    for seq, event in enumerate(events[3:], start=3):
        digest = hashlib.sha256(f"{prev}:{seq}:{event.mac}".encode()).hexdigest()
        raw("UPDATE audit_eventseal SET seq = %s, prev_hash = %s, hash = %s WHERE event_id = %s",
            [seq, prev, digest, event.pk])
        prev = digest
    raw("UPDATE audit_chainhead SET seq = 4, hash = %s", [prev])
    assert_fails_at(events[3].pk, problem="link hash is wrong")


def test_reordered_positions_name_the_moved_event():
    events = write(5)
    a, b = _seal(events[1]), _seal(events[3])
    raw("UPDATE audit_eventseal SET seq = -1 WHERE id = %s", [a.pk])
    raw("UPDATE audit_eventseal SET seq = %s WHERE id = %s", [a.seq, b.pk])
    raw("UPDATE audit_eventseal SET seq = %s WHERE id = %s", [b.seq, a.pk])
    assert_fails_at(events[3].pk, problem="does not follow the previous link")


def test_swapped_contents_name_the_first_swapped_event():
    """Two events exchange everything (content and MAC): each MAC still matches its content,
    but the chain linked the other MAC at that position."""
    events = write(5)
    first, second = events[1], events[3]
    columns = [*canonical.FIELDS, "mac"]
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    for target, source in ((first, second), (second, first)):
        source = Event.objects.get(pk=source.pk)
        params = [Event._meta.get_field(c).get_db_prep_save(getattr(source, c), connection)
                  for c in columns]
        raw(f"UPDATE audit_event SET {assignments} WHERE id = %s", [*params, target.pk])
    assert_fails_at(first.pk, problem="link hash is wrong")


def test_a_changed_link_names_the_event():
    events = write(5)
    raw("UPDATE audit_eventseal SET prev_hash = %s WHERE event_id = %s",
        ["f" * 64, events[2].pk])
    assert_fails_at(events[2].pk, problem="does not follow the previous link")


def test_a_forged_event_outside_the_chain_is_named():
    write(3)
    forged = _forge()
    report = chain.verify()
    assert not report.ok
    assert report.first_bad == forged
    assert any("not in the chain and not waiting" in p for p in report.problems)
    assert any(f"event {forged}: content does not match its MAC" in p for p in report.problems)
    assert f"first bad event: {forged}" in command_fails()


def test_a_forged_event_put_in_the_sealing_queue_fails_once_chained():
    write(3)
    forged = _forge()
    raw("INSERT INTO audit_pendingseal (event_id) VALUES (%s)", [forged])
    assert chain.verify().first_bad == forged  # while it waits
    assert f"first bad event: {forged}" in command_fails()  # the command chains it first
    assert EventSeal.objects.filter(event_id=forged).exists()
    assert_fails_at(forged, problem="does not match its MAC")


def _copy(event: Event) -> int:
    """INSERT a copy of an authentic event, MAC and all, as an intruder replaying it would."""
    columns = ", ".join(connection.ops.quote_name(f.column) for f in Event._meta.concrete_fields
                        if not f.primary_key)
    raw(f"INSERT INTO audit_event ({columns}) SELECT {columns} FROM audit_event WHERE id = %s",
        [event.pk])
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first()


@pytest.mark.parametrize("queued", [True, False])
def test_a_replayed_copy_of_an_authentic_event_is_named(queued):
    events = write(3)
    reset = chain.record(action="mfa.reset", actor_repr="staff@example.com",
                         target_type="user", target_id="42")
    chain.seal_all()
    copy = _copy(reset)
    if queued:  # chained like any other event: its MAC and its link are genuine
        raw("INSERT INTO audit_pendingseal (event_id) VALUES (%s)", [copy])
        chain.seal_all()
        assert EventSeal.objects.filter(event_id=copy).exists()
    report = chain.verify()
    assert not report.ok
    assert any(f"event {copy}: a copy of event {reset.pk}" in p for p in report.problems)
    assert not any(f"event {e.pk}:" in p for e in events for p in report.problems)
    assert f"first bad event: {copy}" in command_fails("--no-seal")


def test_a_forged_event_spliced_into_the_chain_is_named():
    events = write(5)
    forged = _forge(occurred_at=events[2].occurred_at)
    raw("UPDATE audit_eventseal SET seq = seq + 1000 WHERE seq >= 3")
    raw("UPDATE audit_eventseal SET seq = seq - 999 WHERE seq >= 1000")
    prev = _seal(events[1]).hash
    mac = Event.objects.get(pk=forged).mac
    raw("INSERT INTO audit_eventseal (event_id, seq, prev_hash, hash) VALUES (%s, 3, %s, %s)",
        [forged, prev, hashlib.sha256(f"{prev}:3:{mac}".encode()).hexdigest()])
    assert_fails_at(forged, problem="does not match its MAC")


def test_events_cut_off_the_end_contradict_the_head():
    events = write(5)
    for event in events[3:]:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    assert_fails_at(None, problem="the chain ends at position 3 but its head says 5")


def test_the_head_cannot_be_moved_back_without_the_key():
    events = write(5)
    for event in events[3:]:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    raw("UPDATE audit_chainhead SET seq = 3, hash = %s", [_seal(events[2]).hash])
    assert_fails_at(None, problem="the head was moved")


def test_the_head_cannot_be_deleted():
    write(3)
    raw("DELETE FROM audit_chainhead")
    assert_fails_at(None, problem="the chain head is missing")


def test_the_tail_after_a_checkpoint_cannot_be_cut():
    write(4)
    point = chain.checkpoint()
    later = write(3)
    for event in later:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    # Moved back to the checkpoint's own position and hash: still no valid head signature.
    raw("UPDATE audit_chainhead SET seq = %s, hash = %s, checkpoint_seq = %s",
        [point.seq, point.hash, point.seq])
    assert_fails_at(None, problem="the head was moved")


def test_cutting_back_past_a_checkpoint_contradicts_it():
    events = write(6)
    chain.checkpoint()  # at 6
    for event in events[3:]:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    raw("DELETE FROM audit_chainhead")
    assert_fails_at(None, problem="checkpoint at 6: the chain ends at 3")


def test_an_edited_checkpoint_fails_its_signature():
    events = write(5)
    point = chain.checkpoint()
    raw("UPDATE audit_checkpoint SET hash = %s WHERE id = %s", [_seal(events[1]).hash, point.pk])
    assert_fails_at(None, problem=f"checkpoint at {point.seq}: bad signature")


def test_a_deleted_checkpoint_is_missed():
    write(5)
    point = chain.checkpoint()
    raw("DELETE FROM audit_checkpoint WHERE id = %s", [point.pk])
    assert_fails_at(None, problem=f"checkpoint at {point.seq} is missing")


def test_a_rolled_back_database_is_caught_by_exported_checkpoints(tmp_path):
    """Restoring an older copy of all the tables is consistent inside the database; only
    checkpoints kept elsewhere show the events that went missing."""
    write(5)
    chain.checkpoint()
    old_head = ChainHead.objects.values("seq", "hash", "checkpoint_seq", "signature").get()
    later = write(5)
    chain.checkpoint()
    exported = _export()
    assert [p["seq"] for p in exported] == [5, 10]

    for event in later:
        raw("DELETE FROM audit_eventseal WHERE event_id = %s", [event.pk])
        raw("DELETE FROM audit_event WHERE id = %s", [event.pk])
    raw("DELETE FROM audit_checkpoint WHERE seq = 10")
    raw("UPDATE audit_chainhead SET seq = %s, hash = %s, checkpoint_seq = %s, signature = %s",
        [old_head["seq"], old_head["hash"], old_head["checkpoint_seq"], old_head["signature"]])

    assert chain.verify().ok  # the copy is consistent in itself
    assert chain.verify(exported=exported[:1]).ok
    assert_fails_at(None, problem="exported checkpoint at 10: the chain ends at 5",
                    exported=exported)
    path = tmp_path / "checkpoints.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in exported))
    assert "exported checkpoint at 10" in command_fails("--checkpoints", str(path))


def test_an_exported_checkpoint_not_signed_with_the_key_is_refused():
    write(3)
    forged = {**_export_one(), "hash": "0" * 64}
    report = chain.verify(exported=[forged])
    assert not report.ok
    assert any("exported checkpoint at 3: bad signature" in p for p in report.problems)


def _export_one() -> dict:
    chain.checkpoint()
    return chain.checkpoint_export(Checkpoint.objects.order_by("-seq").first())


def test_a_waiting_event_is_checked_too():
    write(2)
    waiting = chain.record(action="test.waiting", actor_repr="someone")
    raw("UPDATE audit_event SET actor_repr = %s WHERE id = %s", ["mallory", waiting.pk])
    report = chain.verify()
    assert report.pending == 1
    assert report.first_bad == waiting.pk
    assert f"first bad event: {waiting.pk}" in command_fails("--no-seal")


def test_another_key_fails_every_event():
    events = write(3)
    with override_settings(AUTHSUITE_AUDIT_SIGNING_KEY="k" * 48):
        assert_fails_at(events[0].pk, problem="does not match its MAC")


def test_malformed_exported_checkpoints_are_refused_not_fatal(tmp_path):
    write(2)
    report = chain.verify(exported=[42, {"seq": "x"}, {"hash": "y"}])
    assert not report.ok
    assert sum("bad signature" in p for p in report.problems) == 3
    path = tmp_path / "broken.jsonl"
    path.write_text("not json\n")
    assert "cannot read checkpoints" in command_fails("--checkpoints", str(path))
