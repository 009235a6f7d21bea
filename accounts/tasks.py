from celery import shared_task

from accounts import credentials, sessions


@shared_task(name="accounts.expire_sessions", ignore_result=True)
def expire_sessions() -> int:
    """Periodic: end sessions past their idle or absolute timeout, and forget the password
    rehashes nothing bound to a password can outlive any more; returns the sessions ended."""
    ended = sessions.sessions_expire()
    credentials.rehashes_prune()
    return ended
