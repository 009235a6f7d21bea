from celery import shared_task

from accounts import sessions


@shared_task(name="accounts.expire_sessions", ignore_result=True)
def expire_sessions() -> int:
    """Periodic: end sessions past their idle or absolute timeout."""
    return sessions.sessions_expire()
