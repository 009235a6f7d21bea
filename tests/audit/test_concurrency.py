"""Many writers and sealers at once on PostgreSQL: one valid chain, every event exactly once,
nobody waits forever."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction
from django.test import Client, override_settings

from audit import chain
from audit.models import ChainHead, Event, EventSeal, PendingSeal
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS = 8
PER_WRITER = 40
TIMEOUT = 120


def _run(targets) -> list[BaseException]:
    """Start every target at the same moment; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        def run():
            try:
                barrier.wait()
                target()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
            finally:
                connections.close_all()
        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a writer or sealer never finished"
    return errors


def _assert_one_valid_chain(expected: int) -> None:
    chain.seal_all()
    assert Event.objects.count() == expected
    assert Event.objects.values("uid").distinct().count() == expected
    assert EventSeal.objects.count() == expected
    assert EventSeal.objects.values("event_id").distinct().count() == expected
    assert list(EventSeal.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, expected + 1))
    assert not PendingSeal.objects.exists()
    assert ChainHead.objects.get().seq == expected
    report = chain.verify()
    assert report.ok, report.problems
    assert report.checked == expected


@override_settings(AUTHSUITE_AUDIT_SEAL_INTERVAL=0, AUTHSUITE_AUDIT_SEAL_BATCH=7,
                   AUTHSUITE_AUDIT_CHECKPOINT_EVERY=50)
def test_concurrent_writers_and_sealers_build_one_chain(monkeypatch):
    # Every commit also tries to seal (interval 0), small batches: maximum contention.
    monkeypatch.setattr(chain, "_inline_last", [float("-inf")])
    stop = threading.Event()

    def writer(n):
        def run():
            for i in range(PER_WRITER):
                if i % 5 == 0:
                    with transaction.atomic():  # a few events committed together
                        chain.record(action="test.batch", actor_id=str(n), data={"i": i})
                        chain.record(action="test.batch", actor_id=str(n), data={"i": -i})
                else:
                    chain.record(action="test.write", actor_id=str(n), data={"i": i})
        return run

    def sealer():
        while not stop.is_set():
            chain.seal()

    writers = [writer(n) for n in range(WRITERS)]
    sealers = [sealer, sealer]

    def writers_then_stop():
        try:
            errors.extend(_run(writers))
        finally:
            stop.set()

    errors: list[BaseException] = []
    outer = threading.Thread(target=writers_then_stop, daemon=True)
    outer.start()
    errors.extend(_run(sealers))
    outer.join(TIMEOUT)
    assert not errors, errors
    per_writer = PER_WRITER + PER_WRITER // 5
    _assert_one_valid_chain(WRITERS * per_writer)
    for n in range(WRITERS):
        assert Event.objects.filter(actor_id=str(n)).count() == per_writer


def test_concurrent_sign_ins_are_all_recorded_in_one_chain(password):
    users = [UserFactory(password=password) for _ in range(WRITERS)]

    def sign_in(user):
        def run():
            for attempt in range(3):
                client = Client(HTTP_USER_AGENT=f"Agent {user.pk}")
                response = client.post("/accounts/login/",
                                       {"email": user.email, "password": password})
                assert response.status_code == 302, (attempt, response.status_code)
        return run

    assert not _run([sign_in(u) for u in users])
    logins = Event.objects.filter(action="accounts.login.succeeded")
    assert logins.count() == WRITERS * 3
    assert {e.actor_id for e in logins} == {str(u.pk) for u in users}
    _assert_one_valid_chain(Event.objects.count())


def test_two_events_racing_to_alert_send_one_mail():
    """The throttle's "sent lately?" check cannot see a concurrent uncommitted alert: the
    unique (rule, user, key, window) row makes the second one stand down."""
    from audit import alerts
    from audit.alerts import sending
    from audit.models import AlertSent
    from authsuite.models import OutboxMessage
    from tests.helpers import race

    user = UserFactory()
    # A throttled rule: changes to how the account signs in (CredentialChange) mail each one.
    events = [chain.record(action="accounts.account.locked", actor_id=str(user.pk),
                           actor_repr=user.email) for _ in range(2)]
    rule = alerts.AccountLocked()
    start = threading.Barrier(2)

    def alert(i: int) -> None:
        with transaction.atomic():
            start.wait(timeout=10)  # both past the "sent lately?" check before either commits
            sending._send(rule, events[i], user)

    race(2, alert)
    assert AlertSent.objects.filter(rule=rule.name, user_id=str(user.pk)).count() == 1
    assert OutboxMessage.objects.filter(template="audit/email/alert", to=user.email).count() == 1



def _deleting(how: str, group, staff):
    """Staff deleting ``group`` on its delete page, or with the changelist's "delete
    selected" action."""
    from django.urls import reverse

    admin = Client()
    admin.force_login(staff)
    if how == "admin":
        return lambda: admin.post(reverse("admin:auth_group_delete", args=[group.pk]),
                                  {"post": "yes"})
    return lambda: admin.post(reverse("admin:auth_group_changelist"), {
        "action": "delete_selected", "index": "0", "_selected_action": [group.pk], "post": "yes"})


@pytest.mark.parametrize("how", ["admin", "admin-action"])
def test_a_group_deleted_by_two_staff_at_once_is_recorded_deleted_once(staff, how):
    # Both staff loaded it before either deleted it. The second delete waited for the
    # first's, found the row gone and deleted nothing, yet the trail said it deleted it too.
    from django.contrib.auth.models import Group

    from tests.helpers import held_then_raced

    group = Group.objects.create(name="Support")
    responses = held_then_raced(Group.objects.filter(pk=group.pk),
                                [_deleting(how, group, staff), _deleting(how, group, staff)])

    assert [r.status_code for r in responses] == [302, 302]
    assert not Group.objects.filter(pk=group.pk).exists()
    assert Event.objects.filter(action="admin.group.deleted").count() == 1
