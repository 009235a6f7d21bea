"""What a sign-in or reset link asked for by address gets, whatever the address is.

Whoever typed the address gets the same answer in every case; only the address's own
mailbox is told what happened. Every case also does the same work, an event recorded and
one message queued, so the request's timing does not tell the cases apart either (ASVS
V6.3): a known address gets its link; one no account signs in with, one of a disabled
account and another address of an account each get a notice saying why no link came
(none of the three is mailed where ``EMAIL_UNKNOWN_ACCOUNTS`` is off).
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _lazy

from accounts import signals
from accounts.app_settings import app_settings
from accounts.flows.email import address_rows_holder
from accounts.flows.mail import send_notice
from accounts.models import normalize_email
from accounts.users import get_by_email
from authsuite.urls_util import absolute_url

#: What was asked for, by purpose, as the notices word it.
ASKED = {"magic_link": _lazy("a sign-in link"),
         "password_reset": _lazy("a password reset link")}

#: The notice each reason for withholding a link mails the address (``link_withheld``).
WITHHELD_NOTICES = {"inactive": "account_inactive", "not_login_address": "not_login_address"}


def link_request_answer(request, *, email: str, purpose: str):
    """Answer a request for a link to ``email`` (``purpose``: ``magic_link``,
    ``password_reset``): the active account that signs in with it, to be sent the link;
    or None when no link goes out, once the case is recorded and the address told (``unknown_address_asked``,
    ``link_withheld``). The caller counted the request against its rate limits first, the
    same in every case.
    """
    email = normalize_email(email)
    user = get_by_email(email)
    if user is not None and user.is_active:
        return user
    # Whether an account holds it as another address. Looked up for a disabled account's
    # login address too, though its account is known: every case without a link then does
    # the same work, so timing cannot tell a disabled account from an unknown address.
    held = address_rows_holder(email)
    if user is None and held is None:
        unknown_address_asked(request, email=email, purpose=purpose)
        return None
    user = user or held
    link_withheld(request, user=user, email=email, purpose=purpose,
                  reason="inactive" if not user.is_active else "not_login_address")
    return None


def unknown_address_asked(request, *, email: str, purpose: str) -> None:
    """A link was asked for ``email``, which no account has: it is recorded (the
    ``unknown_address_asked`` signal) and the address is told, as a known one gets its link
    (``EMAIL_UNKNOWN_ACCOUNTS``)."""
    with transaction.atomic():
        signals.unknown_address_asked.send(
            sender=type(None), request=request, identifier=email, purpose=purpose)
        if not app_settings.EMAIL_UNKNOWN_ACCOUNTS:
            return
        signup_url = (absolute_url(request, reverse("accounts:signup"))
                      if app_settings.SIGNUP_OPEN else "")
        send_notice(request, template="unknown_account", user=None, email=email,
                    asked=str(ASKED[purpose]), signup_url=signup_url)


def link_withheld(request, *, user, email: str, purpose: str, reason: str) -> None:
    """A link was asked for ``email`` of ``user``, who gets none: the account is disabled
    (``reason`` ``inactive``) or the address is another of its addresses, not the one it
    signs in with (``not_login_address``). It is recorded (the ``link_withheld`` signal)
    and the address is told why, under ``EMAIL_UNKNOWN_ACCOUNTS`` as an unknown one is.

    The notice names no other address of the account: a second address's mailbox may no
    longer be its owner's (an old job's, a lapsed domain's), and anyone can make this
    notice go out by typing the address, so the login address, which is all an attack on
    sign-in needs, stays out of it.
    """
    with transaction.atomic():
        signals.link_withheld.send(sender=user.__class__, request=request, user=user,
                                   email=email, purpose=purpose, reason=reason)
        if not app_settings.EMAIL_UNKNOWN_ACCOUNTS:
            return
        send_notice(request, template=WITHHELD_NOTICES[reason], user=user, email=email,
                    asked=str(ASKED[purpose]))
