from __future__ import annotations

from celery import shared_task

from authsuite import outbox
from authsuite.models import OutboxMessage


@shared_task(bind=True, name="authsuite.deliver_mail", acks_late=True, max_retries=None)
def deliver_mail(self, message_id: int) -> str:
    """Deliver one outbox message; idempotent, so a duplicate or retried task is harmless.

    The outbox queues it with a soft and a hard time limit within MAIL_CLAIM_TIMEOUT
    (``outbox.delivery_time_limits``), and a retry keeps them: the soft limit raises
    SoftTimeLimitExceeded inside the send, which is recorded as a failed attempt and retried
    with backoff, before another worker could take the message over. Celery enforces them
    in the prefork pool only (gevent applies the hard one alone; threads, solo and eager
    mode neither).
    """
    try:
        return outbox.mail_deliver(message_id)
    except outbox.DeliveryDeferred as deferred:
        if self.request.is_eager:
            # Eager mode (demo, tests without a broker): the sweeper retries when due.
            return OutboxMessage.Status.PENDING
        raise self.retry(countdown=deferred.countdown) from None


@shared_task(name="authsuite.sweep_outbox")
def sweep_outbox() -> int:
    """Periodic: re-queue undelivered messages (run by Celery beat every minute)."""
    return outbox.outbox_sweep()
