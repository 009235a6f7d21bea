"""The delivery task's time limits: a send is given up, as a failed attempt, before its claim
(``AUTHSUITE_MAIL_CLAIM_TIMEOUT``) runs out and another worker may take the message over.

Celery enforces them in a prefork worker only (not in eager mode, the threads or solo pool):
here the limits the task is queued with, and what the soft one raising in a send leaves.
"""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.test import override_settings

from authsuite import outbox, tasks
from authsuite.models import OutboxMessage
from authsuite.outbox import enqueue
from tests.core.test_outbox import START, TEMPLATES_DIR, FlakyBackend, new_message, row

Status = OutboxMessage.Status

pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.fixture(autouse=True)
def test_templates():
    engine = {**settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}
    with override_settings(TEMPLATES=[engine]):
        yield


class QueuedTasks:
    """Stands for the task: keeps what it was queued with."""

    def __init__(self):
        self.queued: list[tuple[tuple, dict]] = []

    def apply_async(self, args, **options):
        self.queued.append((args, options))


@pytest.fixture
def queued(monkeypatch) -> QueuedTasks:
    task = QueuedTasks()
    monkeypatch.setattr(tasks, "deliver_mail", task)
    return task


@pytest.mark.parametrize("claim,soft,hard", [(300, 240, 270), (60, 48, 54), (10, 8, 9),
                                             (3, 1, 2)])
def test_the_limits_end_a_send_within_its_claim(settings, claim, soft, hard):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = claim
    assert outbox.delivery_time_limits() == (soft, hard)
    assert 0 < soft < hard < claim


@pytest.mark.parametrize("claim", [0, 1, 2])
def test_a_claim_too_short_for_both_limits_sets_none(settings, claim):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = claim
    assert outbox.delivery_time_limits() == (None, None)


def test_each_delivery_is_queued_with_the_limits_of_the_claim_then(db, queued, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    enqueue.queue_delivery(1)
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 60  # read when queued, not when imported
    enqueue.queue_delivery(2)

    assert queued.queued == [
        ((1,), {"soft_time_limit": 240, "time_limit": 270}),
        ((2,), {"soft_time_limit": 48, "time_limit": 54}),
    ]


def test_the_sweeper_queues_with_the_limits_too(db, queued, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 0
    message = new_message()

    assert outbox.outbox_sweep() == 1

    assert queued.queued == [((message.pk,), {"soft_time_limit": 240, "time_limit": 270})]


def test_a_send_stopped_by_the_soft_limit_is_a_failed_attempt_with_backoff(
        db, settings, time_machine, monkeypatch):
    time_machine.move_to(START, tick=False)
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    # As a prefork worker raises it inside the task, the send under way.
    monkeypatch.setattr(FlakyBackend, "error", SoftTimeLimitExceeded())
    message = new_message()

    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)

    assert deferred.value.countdown == 30
    stored = row(message)
    # The claim is given back, not left for another worker to take over after the timeout.
    assert (stored.status, stored.attempts, stored.claimed_at) == (Status.PENDING, 1, None)
    assert "SoftTimeLimitExceeded" in stored.last_error
    time_machine.shift(30)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert len(FlakyBackend.sent) == 1
