"""The periodic task's work: queue what lost tasks left behind, forget old messages."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage
from authsuite.outbox import enqueue
from authsuite.outbox.claims import fail_lost, lost

logger = logging.getLogger("authsuite.outbox")


def outbox_sweep() -> int:
    """Queue every message a lost task left behind; delete old delivered and failed ones.

    Returns how many messages were queued (the first the broker refuses ends the run).
    """
    now = timezone.now()
    pending_since = now - timedelta(seconds=app_settings.MAIL_SWEEP_AFTER)
    has_attempts = Q(attempts__lt=app_settings.MAIL_MAX_ATTEMPTS)
    if failed := fail_lost(OutboxMessage.objects.filter(lost(now) & ~has_attempts)):
        logger.error("outbox: %s messages were lost on their last attempt; failed for good",
                     failed)
    due = OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now,
          created_at__lte=pending_since)
        | (lost(now) & has_attempts)
    ).values_list("pk", flat=True)[:1000]
    ids = list(due)
    queued = 0
    for message_id in ids:
        if enqueue.queue_delivery(message_id) is False:
            # The broker is down (queue_delivery logged it): the rest are not tried, each
            # waiting for a connection that fails the same way and logging it once more.
            logger.info("outbox: %s due messages wait for the next sweep", len(ids) - queued)
            break
        queued += 1
    # Kept as long for staff to see, then gone with the addresses and request details
    # they hold: delivered ones from their delivery, failed ones from when they were made.
    kept_since = now - timedelta(days=app_settings.MAIL_KEEP_DAYS)
    forget_old(kept_since)
    return queued


#: Rows deleted per statement, and statements per sweep, when old rows are forgotten.
FORGET_BATCH = 1000
FORGET_BATCHES = 50


def forget_old(kept_since) -> int:
    """Delete delivered messages sent before ``kept_since`` and failed ones made before it,
    oldest first, ``FORGET_BATCH`` rows at a time and at most ``FORGET_BATCHES`` times; the
    next sweep goes on where this one stopped. Returns how many went.

    One DELETE of them all would hold the rows' locks and write the whole backlog in one
    transaction (a month of mail, the first time a site sweeps or after a pause). The rows
    are found on the ``created_at`` index: a message is sent after it is made, so one sent
    before ``kept_since`` was made before it too."""
    old = OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.SENT, sent_at__lt=kept_since)
        | Q(status=OutboxMessage.Status.FAILED),
        created_at__lt=kept_since,
    )
    deleted = 0
    for _batch in range(FORGET_BATCHES):
        ids = list(old.order_by("created_at").values_list("pk", flat=True)[:FORGET_BATCH])
        if ids:
            # The conditions again: a failed row staff retried meanwhile stays.
            deleted += old.filter(pk__in=ids).delete()[0]
        if len(ids) < FORGET_BATCH:
            break
    return deleted
