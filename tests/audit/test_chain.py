"""The hash chain: recording, sealing, checkpoints, the canonical form. (Tampering: test_tamper.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from audit import canonical, chain
from audit.models import ChainHead, Checkpoint, Event, EventSeal, PendingSeal
from authsuite.text import BIDI_CONTROLS
from tests.audit.support import raw, write

pytestmark = pytest.mark.django_db


def test_login_is_recorded_and_chain_verifies(client, user, password):
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    chain.seal_all()
    event = Event.objects.get(action="accounts.login.succeeded")
    assert event.actor_id == str(user.pk)
    assert event.seal.seq >= 1
    report = chain.verify()
    assert report.ok, report.problems


def test_an_event_is_an_insert_waiting_to_be_chained():
    before = timezone.now()
    event = chain.record(action="test.event", outcome="failure", actor_id="7",
                         actor_repr="ann@example.com", target_type="user", target_id="8",
                         target_repr="bob@example.com", ip="192.0.2.1", user_agent="UA",
                         request_id="r" * 32, session_ref="s" * 16, data={"b": 1, "a": [2]})
    stored = Event.objects.get(pk=event.pk)
    assert before <= stored.occurred_at <= timezone.now()
    assert stored.occurred_at.utcoffset() == timedelta(0)
    assert (stored.actor_id, stored.actor_repr, stored.outcome, stored.target_id) == (
        "7", "ann@example.com", "failure", "8")
    assert stored.data == '{"a":[2],"b":1}'  # canonical JSON
    assert PendingSeal.objects.filter(event=stored).exists()
    assert not EventSeal.objects.filter(event=stored).exists()
    assert stored.mac == canonical.event_mac([getattr(stored, n) for n in canonical.FIELDS])


def test_a_rolled_back_change_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        chain.record(action="test.event")
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()
    assert not PendingSeal.objects.exists()


@override_settings(AUTHSUITE_AUDIT_ENABLED=False)
def test_nothing_is_recorded_when_disabled():
    assert chain.record(action="test.event") is None
    assert not Event.objects.exists()


def test_sealing_chains_in_order_and_signs_the_head():
    events = write(4, seal=False)
    assert chain.seal() == 4
    seals = list(EventSeal.objects.order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3, 4]
    assert [s.event_id for s in seals] == [e.pk for e in events]
    assert seals[0].prev_hash == canonical.GENESIS
    for previous, current in zip(seals, seals[1:], strict=False):
        assert current.prev_hash == previous.hash
    for seal, event in zip(seals, events, strict=True):
        assert seal.hash == canonical.link_hash(seal.prev_hash, seal.seq, event.mac)
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (4, seals[-1].hash)
    assert head.signature == canonical.sign_head(4, head.hash, head.checkpoint_seq)
    assert not PendingSeal.objects.exists()
    assert chain.seal() == 0  # nothing left


@override_settings(AUTHSUITE_AUDIT_SEAL_BATCH=3)
def test_sealing_works_in_batches():
    write(7, seal=False)
    assert chain.seal() == 3
    assert PendingSeal.objects.count() == 4
    assert chain.seal_all() == 4
    assert list(EventSeal.objects.values_list("seq", flat=True)) == list(range(1, 8))


@override_settings(AUTHSUITE_AUDIT_CHECKPOINT_EVERY=5)
def test_a_checkpoint_is_signed_every_so_many_events():
    write(4)
    assert not Checkpoint.objects.exists()
    write(3)
    point = Checkpoint.objects.get()
    assert point.seq == 7
    assert point.hash == EventSeal.objects.get(seq=7).hash
    assert point.signature == canonical.sign_checkpoint(7, point.hash, point.created_at.isoformat())
    assert ChainHead.objects.get().checkpoint_seq == 7


def test_the_checkpoint_command_signs_and_exports(capsys):
    from django.core.management import call_command

    write(3)
    call_command("audit_checkpoint")
    first = json.loads(capsys.readouterr().out)
    assert first["seq"] == 3
    call_command("audit_checkpoint")  # nothing new: the same checkpoint
    assert json.loads(capsys.readouterr().out) == first
    write(2)
    call_command("audit_checkpoint", "--export")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["seq"] for p in lines] == [3, 5]
    assert set(lines[1]) == {"seq", "hash", "created_at", "signature"}


def test_the_checkpoint_command_on_an_empty_chain(capsys):
    from django.core.management import call_command

    call_command("audit_checkpoint")
    assert "The chain is empty." in capsys.readouterr().out


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_verification_reads_the_chain_in_chunks(chunk):
    events = write(7)
    assert chain.verify(chunk=chunk).ok
    raw("UPDATE audit_event SET actor_repr = 'x' WHERE id = %s", [events[5].pk])
    report = chain.verify(chunk=chunk)
    assert report.first_bad == events[5].pk
    assert report.checked == 7


def test_verification_stops_after_enough_problems():
    write(30)
    with override_settings(AUTHSUITE_AUDIT_SIGNING_KEY="another key " * 4):
        report = chain.verify(stop_after=5)
    assert len(report.problems) >= 5
    assert report.checked < 30


@pytest.mark.parametrize("moment", [
    datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC),
    datetime(2026, 1, 31, 12, 0, 0, 250000, tzinfo=UTC),
    datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 1, 31, 12, 0, 0, 100, tzinfo=UTC),
])
def test_the_canonical_time_is_the_utc_instant(moment):
    text = canonical.timestamp(moment)
    assert text.startswith("2026-01-31 12:00:00") and text.endswith("+00")
    assert datetime.fromisoformat(text.replace("+00", "+00:00")) == moment
    elsewhere = moment.astimezone(timezone.get_fixed_timezone(-300))
    assert canonical.timestamp(elsewhere) == text


@pytest.mark.parametrize("dirty", ["a\nb", "a\rb", "a\x1fb", "a\x00b", "a\u2028b", "a\u2029b",
                                   "a\x85b", "a\x1bb", "a\x7fb", "a\ud800b", "a\u202eb",
                                   "a\u2066b", "a\u200fb", "a\u061cb"])
def test_stored_text_has_no_line_breaks_or_controls(dirty):
    event = chain.record(action="test.event", actor_repr=dirty, user_agent=dirty,
                         target_repr=dirty, data={"note": dirty})
    stored = Event.objects.get(pk=event.pk)
    for value in (stored.actor_repr, stored.user_agent, stored.target_repr, stored.data):
        assert len(value.splitlines()) == 1
        assert value.isprintable()
        assert value.isascii() or "\u2028" not in value
    assert stored.actor_repr.startswith("a\\u")
    chain.seal_all()
    assert chain.verify().ok


def test_bidi_controls_are_stored_escaped():
    # "invoice<RLO>fdp.exe" reads as "invoiceexe.pdf" on screen; escaped, it reads as it
    # is wherever the trail is shown or exported.
    event = chain.record(action="test.event", actor_repr="Ann\u200f",
                         target_repr="invoice\u202efdp.exe", user_agent="".join(sorted(BIDI_CONTROLS)))
    stored = Event.objects.get(pk=event.pk)
    assert stored.actor_repr == "Ann\\u200f"
    assert stored.target_repr == "invoice\\u202efdp.exe"
    assert stored.user_agent == "".join(f"\\u{ord(c):04x}" for c in sorted(BIDI_CONTROLS))
    chain.seal_all()
    assert chain.verify().ok


def test_long_values_are_bounded():
    event = chain.record(action="a" * 500, actor_repr="b" * 500, user_agent="c" * 5000)
    stored = Event.objects.get(pk=event.pk)
    assert (len(stored.action), len(stored.actor_repr), len(stored.user_agent)) == (100, 254, 512)
    chain.seal_all()
    assert chain.verify().ok


class TestSealingAfterCommit:
    """Who chains new events: the web process itself without a worker, at most once per
    interval; a queued Celery task with one."""

    def test_without_a_worker_the_process_chains_once_per_interval(self, monkeypatch):
        write(2, seal=False)
        monkeypatch.setattr(chain, "_inline_last", [float("-inf")])  # no run yet
        with override_settings(AUTHSUITE_AUDIT_SEAL_INTERVAL=60):
            chain._schedule_seal()
            assert EventSeal.objects.count() == 2
            write(1, seal=False)
            chain._schedule_seal()
            assert EventSeal.objects.count() == 2  # within the interval: left waiting
        with override_settings(AUTHSUITE_AUDIT_SEAL_INTERVAL=0):
            chain._schedule_seal()
        assert EventSeal.objects.count() == 3

    def test_with_a_worker_one_task_is_queued_per_interval(self, monkeypatch):
        from audit.tasks import seal_events

        queued = []
        monkeypatch.setattr(chain, "_without_worker", lambda: False)
        monkeypatch.setattr(seal_events, "apply_async", lambda **kw: queued.append(kw))
        write(1, seal=False)
        monkeypatch.setattr(chain, "_inline_last", [float("-inf")])
        chain._schedule_seal()
        chain._schedule_seal()  # this process: within the interval
        monkeypatch.setattr(chain, "_inline_last", [float("-inf")])
        chain._schedule_seal()  # as if from another process: the shared cache says queued
        assert queued == [{"countdown": 1.0}]
        assert EventSeal.objects.count() == 0  # the request itself chains nothing

    def test_a_broken_broker_does_not_break_the_request(self, monkeypatch, caplog):
        from audit.tasks import seal_events

        def refuse(**kwargs):
            raise ConnectionError("broker down")

        monkeypatch.setattr(chain, "_without_worker", lambda: False)
        monkeypatch.setattr(seal_events, "apply_async", refuse)
        monkeypatch.setattr(chain, "_inline_last", [float("-inf")])
        chain._schedule_seal()
        assert "could not chain new events now" in caplog.text
