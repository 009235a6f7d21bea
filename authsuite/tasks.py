from __future__ import annotations

from celery import shared_task

from authsuite import outbox


@shared_task(bind=True, name="authsuite.deliver_mail", acks_late=True, max_retries=None)
def deliver_mail(self, message_id: int) -> str:
    """Deliver one outbox message; idempotent, so a duplicate or retried task is harmless."""
    try:
        return outbox.mail_deliver(message_id)
    except outbox.DeliveryDeferred as deferred:
        if self.request.is_eager:
            # Eager mode (demo, tests without a broker): the sweeper retries when due.
            return outbox.OutboxMessage.Status.PENDING
        raise self.retry(countdown=deferred.countdown) from None


@shared_task(name="authsuite.sweep_outbox")
def sweep_outbox() -> int:
    """Periodic: re-queue undelivered messages (run by Celery beat every minute)."""
    return outbox.outbox_sweep()
