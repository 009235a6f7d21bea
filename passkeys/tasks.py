from celery import shared_task

from passkeys import signup


@shared_task(name="passkeys.expire_signups", ignore_result=True)
def expire_signups() -> int:
    """Periodic: remove passkey sign-ups whose link can no longer be used."""
    return signup.signups_expire()
