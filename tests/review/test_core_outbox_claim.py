"""A worker whose claim was taken over never overwrites the outcome of the new owner."""

from __future__ import annotations

from datetime import UTC, datetime
from smtplib import SMTPException, SMTPRecipientsRefused

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from authsuite import outbox
from authsuite.models import OutboxMessage
from authsuite.outbox import delivery

Status = OutboxMessage.Status
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class SlowThenTakenOver(BaseEmailBackend):
    """The first send outlives its claim: meanwhile a second worker takes the message over
    and delivers it; then the first send fails (or succeeds) late."""

    clock = None
    late_error: Exception | None = SMTPException("451 timeout")
    sent: list = []
    calls = 0

    def send_messages(self, messages):
        cls = SlowThenTakenOver
        cls.calls += 1
        if cls.calls == 1:
            cls.clock.shift(301)
            assert outbox.mail_deliver(int(messages[0].extra_headers["X-Authsuite-Message"])) \
                == Status.SENT
            if cls.late_error is not None:
                raise cls.late_error
        cls.sent.extend(messages)
        return len(messages)


@pytest.fixture
def taken_over(settings, time_machine):
    time_machine.move_to(START, tick=False)
    settings.EMAIL_BACKEND = f"{__name__}.SlowThenTakenOver"
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 8
    SlowThenTakenOver.clock, SlowThenTakenOver.sent, SlowThenTakenOver.calls = time_machine, [], 0
    SlowThenTakenOver.late_error = SMTPException("451 timeout")
    return SlowThenTakenOver


def _message():
    return OutboxMessage.objects.create(template="authsuite/email/none", to="ann@example.com")


@pytest.fixture(autouse=True)
def _render(monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    monkeypatch.setattr(delivery, "render", lambda m: EmailMultiAlternatives(
        subject="s", body="b", to=[m.to], headers={"X-Authsuite-Message": str(m.pk)}))


def test_a_late_failure_does_not_reopen_a_message_the_new_owner_sent(db, taken_over):
    message = _message()
    assert outbox.mail_deliver(message.pk) == "skipped"  # the claim was no longer ours
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert stored.status == Status.SENT
    assert stored.last_error == ""
    assert outbox.mail_deliver(message.pk) == "skipped"  # and nobody sends it a third time


def test_a_late_failure_for_good_does_not_mark_a_sent_message_failed(db, taken_over):
    # Refused for good (a last attempt's claim is never taken over: the message fails).
    taken_over.late_error = SMTPRecipientsRefused({"ann@example.com": (550, b"no mailbox")})
    message = _message()
    outbox.mail_deliver(message.pk)
    assert OutboxMessage.objects.get(pk=message.pk).status == Status.SENT
