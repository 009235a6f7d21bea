"""The delivery task's time limits in a real prefork worker, the pool that enforces them: a
send that hangs is given up by the soft limit, inside the task, before its claim runs out,
and recorded as a failed attempt retried with backoff; the retry keeps the limits."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from authsuite import outbox
from authsuite.celery import app
from authsuite.models import OutboxMessage
from tests.services import worker_settings_prefork
from tests.services.support import wait_until

pytestmark = pytest.mark.services

Status = OutboxMessage.Status
CLAIM = worker_settings_prefork.AUTHSUITE_MAIL_CLAIM_TIMEOUT


@pytest.fixture
def prefork(prefork_worker, transactional_db, settings):
    """The prefork worker, and a web side that queues for it with the same claim."""
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = CLAIM
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield prefork_worker
    app.conf.task_always_eager = eager
    prefork_worker.stall.unlink(missing_ok=True)
    wait_until(prefork_worker.broker.idle, timeout=30, what="the worker to drain the queue")
    print(f"worker log (tail):\n{prefork_worker.log_tail()}")  # shown when the test failed


def test_a_hung_send_is_given_up_within_its_claim_and_retried(prefork):
    soft, _hard = outbox.delivery_time_limits()
    prefork.stall.touch()  # the mail server stops answering
    started = time.monotonic()
    with transaction.atomic():
        message = outbox.mail_enqueue(template="accounts/email/password_changed",
                                      to="ann@example.com", context={"email": "ann@example.com"})

    first = wait_until(lambda: OutboxMessage.objects.filter(
        pk=message.pk, status=Status.PENDING, attempts=1).exclude(last_error="").first(),
        timeout=CLAIM * 2, what="the first attempt to be given up")
    given_up_after = time.monotonic() - started
    assert "SoftTimeLimitExceeded" in first.last_error
    assert first.claimed_at is None  # given back, not left for the claim to run out
    assert soft <= given_up_after < CLAIM

    # The retry Celery queued carries the same limits: it is given up too.
    second = wait_until(lambda: OutboxMessage.objects.filter(
        pk=message.pk, status=Status.PENDING, attempts=2).first(),
        timeout=CLAIM * 3, what="the retry to be given up")
    assert "SoftTimeLimitExceeded" in second.last_error

    prefork.stall.unlink()  # the server answers again
    sent = wait_until(lambda: OutboxMessage.objects.filter(
        pk=message.pk, status=Status.SENT).first(), timeout=CLAIM * 3, what="the message sent")
    assert (sent.attempts, sent.last_error) == (3, "")
