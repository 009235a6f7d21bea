"""The headers of mail as the SMTP server receives it from the worker: the envelope of an
internationalised address, an address Django's mail cannot reach, and the identity a retry
keeps."""

from __future__ import annotations

import pytest
from django.db import transaction

from authsuite.models import OutboxMessage
from authsuite.outbox import headers, mail_enqueue
from tests.services.support import wait_until

pytestmark = pytest.mark.services

Status = OutboxMessage.Status
NOTICE = "accounts/email/password_changed"
CONTEXT = {"email": "ann@example.com", "when": "2026-11-22 10:00 UTC", "device": "Firefox",
           "ip": "203.0.113.5"}


def enqueue(to: str) -> OutboxMessage:
    with transaction.atomic():
        return mail_enqueue(template=NOTICE, to=to, context=CONTEXT)


def test_an_internationalised_domain_reaches_the_server_in_its_idna_spelling(worker,
                                                                           smtp_server):
    message = enqueue("ann@bücher.example")
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["ann@xn--bcher-kva.example"]
    assert mail.message["To"].addresses[0].addr_spec == "ann@xn--bcher-kva.example"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["X-Authsuite-Message"] == str(message.pk)
    wait_until(lambda: OutboxMessage.objects.get(pk=message.pk).status == Status.SENT,
               timeout=30, what="the message recorded as sent")


def test_a_non_ascii_local_part_fails_at_once_without_reaching_the_server(worker,
                                                                       smtp_server):
    # The server offers no SMTPUTF8 (nor does Django's mail use it): sent anyway, the
    # address would be RFC 2047-encoded, another mailbox nobody reads.
    message = enqueue("zoë@example.com")
    failed = wait_until(
        lambda: OutboxMessage.objects.filter(pk=message.pk, status=Status.FAILED).first(),
        timeout=30, what="the message failed")
    assert failed.attempts == 1
    assert "SMTPUTF8" in failed.last_error
    assert smtp_server.attempts == [] and smtp_server.received == []


def test_a_retry_after_a_refusal_carries_the_same_message_id(worker, smtp_server):
    smtp_server.refuse_next("451 4.3.0 Try again later")
    message = enqueue("ann@example.com")
    [mail] = smtp_server.wait_for(1)
    assert len(smtp_server.attempts) == 2  # refused once, then accepted
    # The row's own, as every attempt renders it: not one Django made for the attempt.
    assert mail.message["Message-ID"] == headers.message_id(
        OutboxMessage.objects.get(pk=message.pk))
    assert f".{message.pk}.authsuite@" in mail.message["Message-ID"]
