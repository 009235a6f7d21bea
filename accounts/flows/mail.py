"""The accounts emails, each queued through the outbox in the caller's transaction."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import signals
from accounts.app_settings import app_settings
from accounts.users import user_email
from authsuite import context, notices
from authsuite.outbox import mail_enqueue
from authsuite.urls_util import absolute_url


def _where() -> dict:
    ctx = context.current()
    from authsuite.useragent import device_name

    return {
        "when": timezone.now().strftime("%Y-%m-%d %H:%M UTC"),
        "ip": ctx.ip or "unknown",
        "device": device_name(ctx.user_agent),
    }


def send_link(request, *, template: str, user, email: str, url_name: str, token: str) -> None:
    """An email whose link carries a token: the link is sealed in the outbox row.

    The link opens the suite's page ``url_name``, or the project's front end where
    ``FRONTEND_URLS`` names one for this email.
    """
    frontend = app_settings.FRONTEND_URLS.get(template)
    if frontend:
        url = frontend.replace("{token}", token)
    else:
        url = absolute_url(request, reverse(url_name, kwargs={"token": token}))
    mail_enqueue(
        template=f"accounts/email/{template}", to=email, user=user,
        context={"email": email, **_where()}, secrets={"url": url},
    )


def send_notice(request, *, template: str, user, email: str | None = None, **extra) -> None:
    """An email that carries no secret (password changed, address changed...).

    Skipped when an installed app's alert rule sends this notice instead.
    """
    if notices.is_claimed(f"accounts.{template}"):
        return
    mail_enqueue(
        template=f"accounts/email/{template}", to=email or user_email(user), user=user,
        context={"email": email or user_email(user), **_where(), **extra},
    )


#: What was asked for, by purpose, as the notice to an unknown address words it.
ASKED = {"magic_link": _("a sign-in link"), "password_reset": _("a password reset link")}


def unknown_address_asked(request, *, email: str, purpose: str) -> None:
    """Someone asked for a link (``purpose``: ``magic_link``, ``password_reset``) for
    ``email``, which no account has. It is recorded (the ``unknown_address_asked`` signal),
    and the address is told, as a known one gets its link (``EMAIL_UNKNOWN_ACCOUNTS``).
    Whoever typed the address learns nothing either way, and the request does much the same
    work either way (an event recorded, a message queued), so its timing tells little more.
    """
    with transaction.atomic():
        signals.unknown_address_asked.send(
            sender=type(None), request=request, identifier=email, purpose=purpose)
        if not app_settings.EMAIL_UNKNOWN_ACCOUNTS:
            return
        signup_url = (absolute_url(request, reverse("accounts:signup"))
                      if app_settings.SIGNUP_OPEN else "")
        send_notice(request, template="unknown_account", user=None, email=email,
                    asked=str(ASKED[purpose]), signup_url=signup_url)
