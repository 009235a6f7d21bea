"""The accounts emails, each queued through the outbox in the caller's transaction.

``link_message`` and ``notice_message`` say what a message is (the keyword arguments of
``mail_enqueue``), for the mail worker, which writes it into the row it decided
(``accounts.flows.link_request``); ``send_link`` and ``send_notice`` queue one. A link
mail is sent only while its token would still be accepted (``link_still_live``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import tokens
from accounts.app_settings import app_settings
from accounts.users import user_email
from authsuite import notices
from authsuite.outbox import mail_enqueue
from authsuite.urls_util import absolute_url

#: The outbox guard of link mails (``link_still_live``, registered in ``AccountsConfig.ready``).
LINK_GUARD = "accounts.link"

LINK_DEAD = ("Its link stopped working before it could be sent: it was used, replaced by a "
             "newer link, or the account or its sign-in address changed.")


def mail_template(name: str) -> str:
    """The outbox template of the accounts email ``name``."""
    return f"accounts/email/{name}"


def _where(when: datetime | None = None, *, by=None) -> dict:
    """When (now by default) the mail was asked for, and from where (``notices.origin``:
    the device and IP, or only that staff did it, ``by``)."""
    return {"when": notices.utc_text(when or timezone.now()),
            **notices.origin(by=by)}


# Hidden whole: Django's reverse() and the URL helpers beneath hold the token, and the link
# made of it, under names of their own.
@sensitive_variables()
def link_message(request, *, template: str, user, email: str, url_name: str, token: str,
                 lifetime: int, token_purpose: str | None = None, guard: str | None = None,
                 origin: str | None = None, when: datetime | None = None, by=None) -> dict:
    """An email whose link carries a token; the link is sealed in the outbox row.

    The link opens the suite's page ``url_name`` on ``origin`` (scheme and host, see
    ``authsuite.urls_util.origin``; the request's by default), or the project's front end
    where ``FRONTEND_URLS`` names one for this email. ``lifetime``: the token's, in seconds;
    a mail not sent by then is not sent. ``token_purpose``: the ``OneTimeToken`` purpose of
    ``token``, which each attempt to send the mail then checks first (``link_still_live``);
    ``guard``, for a link of another kind: the outbox guard that checks it instead, given
    the token as ``secrets["token"]``. ``when`` is the time it says it was asked for (now
    by default); ``by``: the staff member who sent it.
    """
    frontend = app_settings.FRONTEND_URLS.get(template)
    if frontend:
        url = frontend.replace("{token}", token)
    else:
        path = reverse(url_name, kwargs={"token": token})
        url = origin + path if origin is not None else absolute_url(request, path)
    message = {"template": mail_template(template), "to": email, "user": user,
               "context": {"email": email, **_where(when, by=by)}, "secrets": {"url": url},
               "expires_at": timezone.now() + timedelta(seconds=lifetime)}
    if token_purpose is not None:
        message["context"]["token_purpose"] = token_purpose
        guard = LINK_GUARD
    if guard is not None:
        message["secrets"]["token"] = token
        message["guard"] = guard
    return message


@sensitive_variables("token")
def send_link(request, *, template: str, user, email: str, url_name: str, token: str,
              lifetime: int, token_purpose: str | None = None, guard: str | None = None,
              by=None) -> None:
    """Queue an email whose link carries a token (``link_message``)."""
    mail_enqueue(**link_message(request, template=template, user=user, email=email,
                                url_name=url_name, token=token, lifetime=lifetime,
                                token_purpose=token_purpose, guard=guard, by=by))


@sensitive_variables("secrets", "raw")
def link_still_live(message, secrets: dict) -> str:
    """The outbox guard of link mails (``LINK_GUARD``): "" while the token the mail's link
    carries would still be accepted, else why the mail is not sent.

    A send retried after an SMTP failure may come after a newer link voided this one, after
    the link was used (an earlier attempt did reach the mailbox, its reply lost), after the
    account was disabled or, for links that sign in or reset, after its login address
    changed (``tokens.TO_LOGIN_ADDRESS``). Mailing it then would only deliver a dead link,
    and one that arrives after the live one would be the one the person clicks.
    """
    raw, purpose = secrets.get("token"), message.context.get("token_purpose")
    if not raw or not purpose:
        return ""
    return "" if tokens.token_peek(raw, purpose=purpose) is not None else LINK_DEAD


def notice_message(*, template: str, user, email: str | None = None,
                   when: datetime | None = None, by=None, **extra) -> dict | None:
    """An email that carries no secret (password changed, address changed...), or None
    when an installed app's alert rule sends this notice instead; ``by``: the staff member
    whose change it tells of."""
    if notices.is_claimed(f"accounts.{template}"):
        return None
    return {"template": mail_template(template), "to": email or user_email(user),
            "user": user,
            "context": {"email": email or user_email(user), **_where(when, by=by), **extra}}


def send_notice(request, *, template: str, user, email: str | None = None, by=None,
                **extra) -> None:
    """Queue a notice (``notice_message``), unless an alert rule sends it instead."""
    message = notice_message(template=template, user=user, email=email, by=by, **extra)
    if message is not None:
        mail_enqueue(**message)
