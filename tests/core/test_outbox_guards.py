"""Guarded outbox messages: checked before each attempt to send them, the first and every
retry, and failed unsent, their secret erased, once their guard says they are no longer
worth sending (a link voided meanwhile)."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

from authsuite import crypto, outbox
from authsuite.models import OutboxMessage
from authsuite.outbox import registry
from tests.core.test_outbox import (
    GREETING,
    SECRET_URL,
    START,
    TEMPLATES_DIR,
    FlakyBackend,
    row,
)

Status = OutboxMessage.Status
GUARD = "outbox_test.guard"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "held")]


@pytest.fixture(autouse=True)
def test_templates():
    engine = {**settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}
    with override_settings(TEMPLATES=[engine], AUTHSUITE_SITE_NAME="Example ID"):
        yield


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 0, []
    return FlakyBackend


class Guard:
    """A guard that records the secrets it was shown and answers as it is told."""

    def __init__(self):
        self.seen: list[dict] = []
        self.reason = ""
        self.fail = False

    def __call__(self, message: OutboxMessage, secrets: dict) -> str:
        self.seen.append(secrets)
        if self.fail:
            raise RuntimeError("the check failed")
        return self.reason


@pytest.fixture
def guard():
    check = Guard()
    outbox.guard_register(GUARD, check)
    yield check
    registry.guards.pop(GUARD, None)


def guarded(guard_name: str = GUARD) -> OutboxMessage:
    """A link mail as ``mail_enqueue`` writes it."""
    return outbox.mail_enqueue(template=GREETING, to="ann@example.com",
                               context={"name": "Ann"}, secrets={"url": SECRET_URL},
                               guard=guard_name)


def test_the_guard_is_asked_before_each_attempt_with_the_secrets(guard, flaky, frozen):
    flaky.failures = 1
    message = guarded()
    assert row(message).guard == GUARD

    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)
    frozen.shift(deferred.value.countdown)
    assert outbox.mail_deliver(message.pk) == Status.SENT

    assert guard.seen == [{"url": SECRET_URL}, {"url": SECRET_URL}]
    [sent] = flaky.sent
    assert SECRET_URL in sent.body


def test_a_retry_its_guard_refuses_sends_nothing_and_erases_the_secret(guard, flaky, frozen,
                                                                       caplog):
    flaky.failures = 1
    message = guarded()
    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)
    guard.reason = "Its link was replaced by a newer one."  # meanwhile
    frozen.shift(deferred.value.countdown)

    with caplog.at_level(logging.WARNING, logger="authsuite.outbox"):
        assert outbox.mail_deliver(message.pk) == Status.FAILED

    assert flaky.sent == []
    stored = row(message)
    assert (stored.status, stored.last_error) == (Status.FAILED,
                                                  "Its link was replaced by a newer one.")
    assert (stored.sealed_context, stored.secret_erased, stored.claimed_at) == ("", True, None)
    assert "no longer worth sending" in caplog.text
    # Done with: neither a duplicate task nor the sweeper sends it.
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert outbox.outbox_sweep() == 0
    assert len(guard.seen) == 2


def test_a_first_attempt_its_guard_refuses_sends_nothing(guard):
    guard.reason = "Its link stopped working."
    message = guarded()
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []
    assert row(message).secret_erased


def test_a_guard_that_fails_is_a_failed_attempt_retried_with_backoff(guard, frozen, settings):
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    guard.fail = True
    message = guarded()

    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)

    assert deferred.value.countdown == 30
    stored = row(message)
    assert (stored.status, stored.attempts) == (Status.PENDING, 1)
    assert "RuntimeError" in stored.last_error
    assert stored.sealed_context  # kept for the next attempt
    assert mail.outbox == []
    guard.fail = False
    frozen.shift(30)
    assert outbox.mail_deliver(message.pk) == Status.SENT


def test_a_message_whose_guard_is_gone_fails_at_once_unsent():
    message = guarded("gone.app")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    stored = row(message)
    assert "Unresolvable" in stored.last_error and "gone.app" in stored.last_error
    assert stored.secret_erased and mail.outbox == []


def test_an_unguarded_message_is_sent_as_before(guard):
    message = OutboxMessage.objects.create(
        template=GREETING, to="ann@example.com", context={"name": "Ann"},
        sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert guard.seen == [] and len(mail.outbox) == 1
