from celery import shared_task

from accounts import credentials, lockout, sessions


@shared_task(name="accounts.expire_sessions", ignore_result=True)
def expire_sessions() -> int:
    """Periodic: end sessions past their idle or absolute timeout, forget the password
    rehashes nothing bound to a password can outlive any more and the failed sign-ins that
    count for nothing any more; returns the sessions ended."""
    ended = sessions.sessions_expire()
    credentials.rehashes_prune()
    lockout.throttles_prune()
    return ended
