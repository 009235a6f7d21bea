"""Races on PostgreSQL: a queued sign-in or reset link request delivered by several workers
at once (a retried task, the sweeper, a second worker) is decided once: one token, one
audit event.

Real transactions and threads, each with its own database connection.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.flows.link_request import RESOLVER
from accounts.models import OneTimeToken
from authsuite import outbox
from authsuite.models import OutboxMessage
from tests.accounts.test_link_request import account_events, last_event
from tests.helpers import outbox_for, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 4
PURPOSES = ["magic_link", "password_reset"]


@pytest.fixture
def held(monkeypatch) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(outbox, "_queue", queued.append)
    return queued


def asked(purpose: str, email: str, held: list[int]) -> int:
    assert Client().post(reverse(f"accounts:{purpose}"), {"email": email}).status_code in (200, 302)
    [message_id] = held
    return message_id


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("left", ["pending", "claim_gone_stale"])
def test_many_workers_at_once_decide_it_once(user, purpose, left, held, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    start = last_event()
    message_id = asked(purpose, user.email, held)
    if left == "claim_gone_stale":  # a worker died holding it: every one may take it over
        OutboxMessage.objects.filter(pk=message_id).update(
            status=OutboxMessage.Status.SENDING, attempts=1,
            claimed_at=timezone.now() - timezone.timedelta(seconds=301))

    results = race(WORKERS, lambda i: outbox.mail_deliver(message_id))

    assert sorted(results) == ["sent"] + ["skipped"] * (WORKERS - 1)
    assert OneTimeToken.objects.filter(user=user).count() == 1
    assert len(account_events(after=start)) == 1
    assert len(outbox_for(user.email)) == 1


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_worker_taking_a_claim_over_mid_decision_waits_and_decides_nothing(
        user, purpose, held, settings):
    # Every claim is stale at once: the second worker takes the row over while the first
    # is still deciding it. It waits for the row lock, then finds it decided.
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 0
    start = last_event()
    message_id = asked(purpose, user.email, held)
    deciding = threading.Event()
    real = outbox._resolvers[RESOLVER]

    def linger(message):
        decided = real(message)
        deciding.set()
        time.sleep(0.3)
        return decided

    outbox._resolvers[RESOLVER] = linger
    try:
        def deliver(i: int) -> str:
            if i == 1:
                assert deciding.wait(timeout=10)
            return outbox.mail_deliver(message_id)

        results = race(2, deliver)
    finally:
        outbox._resolvers[RESOLVER] = real

    # Sent at least once (a claim taken over may send it again), decided once, and
    # whoever sends it sends the message decided, with its link.
    assert "sent" in results and set(results) <= {"sent", "skipped"}
    assert OneTimeToken.objects.filter(user=user).count() == 1
    assert len(account_events(after=start)) == 1
    bodies = {m.body for m in mail.outbox}
    assert len(bodies) == 1 and "http://testserver/accounts/" in bodies.pop()
