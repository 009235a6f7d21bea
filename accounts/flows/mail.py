"""The accounts emails, each queued through the outbox in the caller's transaction.

``link_message`` and ``notice_message`` say what a message is (the keyword arguments of
``mail_enqueue``), for the mail worker, which writes it into the row it decided
(``accounts.flows.link_request``); ``send_link`` and ``send_notice`` queue one.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from accounts.app_settings import app_settings
from accounts.users import user_email
from authsuite import context, notices
from authsuite.outbox import mail_enqueue
from authsuite.urls_util import absolute_url


def _where(when: datetime | None = None) -> dict:
    ctx = context.current()
    from authsuite.useragent import device_name

    return {
        "when": (when or timezone.now()).strftime("%Y-%m-%d %H:%M UTC"),
        "ip": ctx.ip or "unknown",
        "device": device_name(ctx.user_agent),
    }


def link_message(request, *, template: str, user, email: str, url_name: str, token: str,
                 origin: str | None = None, when: datetime | None = None) -> dict:
    """An email whose link carries a token; the link is sealed in the outbox row.

    The link opens the suite's page ``url_name`` on ``origin`` (scheme and host, see
    ``authsuite.urls_util.origin``; the request's by default), or the project's front end
    where ``FRONTEND_URLS`` names one for this email. ``when`` is the time it says it was
    asked for (now by default).
    """
    frontend = app_settings.FRONTEND_URLS.get(template)
    if frontend:
        url = frontend.replace("{token}", token)
    else:
        path = reverse(url_name, kwargs={"token": token})
        url = origin + path if origin is not None else absolute_url(request, path)
    return {"template": f"accounts/email/{template}", "to": email, "user": user,
            "context": {"email": email, **_where(when)}, "secrets": {"url": url}}


def send_link(request, *, template: str, user, email: str, url_name: str, token: str) -> None:
    """Queue an email whose link carries a token (``link_message``)."""
    mail_enqueue(**link_message(request, template=template, user=user, email=email,
                                url_name=url_name, token=token))


def notice_message(*, template: str, user, email: str | None = None,
                   when: datetime | None = None, **extra) -> dict | None:
    """An email that carries no secret (password changed, address changed...), or None
    when an installed app's alert rule sends this notice instead."""
    if notices.is_claimed(f"accounts.{template}"):
        return None
    return {"template": f"accounts/email/{template}", "to": email or user_email(user),
            "user": user, "context": {"email": email or user_email(user), **_where(when), **extra}}


def send_notice(request, *, template: str, user, email: str | None = None, **extra) -> None:
    """Queue a notice (``notice_message``), unless an alert rule sends it instead."""
    message = notice_message(template=template, user=user, email=email, **extra)
    if message is not None:
        mail_enqueue(**message)
