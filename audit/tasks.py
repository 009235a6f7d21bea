from celery import shared_task

from audit import chain


@shared_task(name="audit.seal_events", ignore_result=True)
def seal_events() -> int:
    """Chain every pending event (queued after writes, and run periodically)."""
    return chain.seal_all()


@shared_task(name="audit.checkpoint", ignore_result=True)
def checkpoint() -> int:
    """Periodic: sign the head of the chain."""
    point = chain.checkpoint()
    return point.seq if point else 0


@shared_task(name="audit.prune", ignore_result=True)
def prune() -> int:
    """Periodic: delete events past the retention age, leaving an anchor event."""
    return chain.prune()
