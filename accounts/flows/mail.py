"""The accounts emails, each queued through the outbox in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from accounts.app_settings import app_settings
from accounts.users import user_email
from authsuite import context, notices
from authsuite.outbox import mail_enqueue
from authsuite.urls_util import absolute_url


def _where(*, by=None) -> dict:
    """When, and from which device and IP, the mail was asked for; with ``by`` (staff acting
    on the account) only when, and ``by_staff``: the request is the staff member's, and
    their IP and device are not the user's to see (the audit trail keeps them)."""
    when = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
    if by is not None:
        return {"when": when, "by_staff": True}
    ctx = context.current()
    from authsuite.useragent import device_name

    return {"when": when, "ip": ctx.ip or "unknown", "device": device_name(ctx.user_agent)}


def send_link(request, *, template: str, user, email: str, url_name: str, token: str,
              lifetime: int, by=None) -> None:
    """An email whose link carries a token: the link is sealed in the outbox row.

    The link opens the suite's page ``url_name``, or the project's front end where
    ``FRONTEND_URLS`` names one for this email. ``lifetime``: the token's, in seconds; a
    mail not sent by then is not sent. ``by``: the staff member who sent it.
    """
    frontend = app_settings.FRONTEND_URLS.get(template)
    if frontend:
        url = frontend.replace("{token}", token)
    else:
        url = absolute_url(request, reverse(url_name, kwargs={"token": token}))
    mail_enqueue(
        template=f"accounts/email/{template}", to=email, user=user,
        context={"email": email, **_where(by=by)}, secrets={"url": url},
        expires_at=timezone.now() + timedelta(seconds=lifetime),
    )


def send_notice(request, *, template: str, user, email: str | None = None, by=None,
                **extra) -> None:
    """An email that carries no secret (password changed, address changed...); ``by``: the
    staff member whose change it tells of.

    Skipped when an installed app's alert rule sends this notice instead.
    """
    if notices.is_claimed(f"accounts.{template}"):
        return
    mail_enqueue(
        template=f"accounts/email/{template}", to=email or user_email(user), user=user,
        context={"email": email or user_email(user), **_where(by=by), **extra},
    )

