"""Who holds a message: a worker claims a due row in one conditional UPDATE, and every
later write checks that the claim is still its own (a send that outlived
``MAIL_CLAIM_TIMEOUT`` may have been taken over)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage

logger = logging.getLogger("authsuite.outbox")


def lost(now) -> Q:
    """Messages whose worker was lost while sending them: killed, or still at it past
    MAIL_CLAIM_TIMEOUT."""
    stale = now - timedelta(seconds=app_settings.MAIL_CLAIM_TIMEOUT)
    return Q(status=OutboxMessage.Status.SENDING, claimed_at__lt=stale)


def fail_lost(rows) -> int:
    """Fail for good the ``rows`` lost on their last attempt: taken over, they would be sent
    once more than MAIL_MAX_ATTEMPTS allows, and a worker that dies on one (a hard time
    limit, say) would try it every claim timeout for ever, its secret kept all along."""
    error = "The worker sending it stopped on its last attempt."
    failed = 0
    for with_secret in (True, False):
        failed += rows.filter(~Q(sealed_context="") if with_secret else Q(sealed_context="")).update(
            status=OutboxMessage.Status.FAILED, sealed_context="", claimed_at=None,
            last_error=error, secret_erased=with_secret,
        )
    return failed


def claim(message_id: int) -> OutboxMessage | str | None:
    """Take ownership of a due message in one conditional UPDATE (atomic on every backend);
    "failed" when it was lost on its last attempt and is now failed for good."""
    now = timezone.now()
    has_attempts = Q(attempts__lt=app_settings.MAIL_MAX_ATTEMPTS)
    due = Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now) | (
        lost(now) & has_attempts)

    won = (
        OutboxMessage.objects.filter(due, pk=message_id)
        .update(status=OutboxMessage.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if won:
        # Read back only while the claim is still this one: a worker whose claim this took
        # over may have finished the row in between (sent, its secret erased), and sending
        # it again without its link would help nobody.
        return OutboxMessage.objects.filter(
            pk=message_id, status=OutboxMessage.Status.SENDING, claimed_at=now).first()
    if fail_lost(OutboxMessage.objects.filter(lost(now) & ~has_attempts, pk=message_id)):
        logger.error("outbox: message %s was lost on its last attempt; failed for good",
                     message_id)
        return OutboxMessage.Status.FAILED
    return None


def ours(message: OutboxMessage):
    """The row while this worker still holds its claim. A send that outlived
    MAIL_CLAIM_TIMEOUT may have been taken over and delivered by another worker: its late
    failure must not reopen (and send again) or fail a message that went out."""
    return OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.SENDING, claimed_at=message.claimed_at
    )


def give_up(message: OutboxMessage, error: str) -> bool:
    """Fail ``message`` for good, its secret erased, if this worker still holds its claim."""
    return bool(ours(message).update(
        status=OutboxMessage.Status.FAILED, sealed_context="", claimed_at=None,
        last_error=error[:500], secret_erased=bool(message.sealed_context),
    ))
