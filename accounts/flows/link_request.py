"""What a sign-in or reset link asked for by address gets, whatever the address is.

Whoever typed the address gets the same answer in every case, and the request does the
same work in every case, so its timing tells nothing either (ASVS V6.3): after its rate
limits it writes one outbox row saying which link was asked for which address
(``link_request_queue``) and looks no account up. The mail worker decides what that row
becomes (``link_request_resolve``), once, in one transaction with what it records, while
the link asked for would still work had it been issued with the request: a known
address gets its link; one no account signs in with, one of a disabled account and another
address of an account each get a notice saying why no link came (none of the three is
mailed where ``EMAIL_UNKNOWN_ACCOUNTS`` is off). Only the address's own mailbox is told
which case it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from accounts import signals, tokens
from accounts.app_settings import app_settings
from accounts.flows.email import address_rows_holder
from accounts.flows.mail import link_message, mail_template, notice_message
from accounts.users import get_by_email, lock_user_row, user_email
from authsuite.models import OutboxMessage
from authsuite.outbox import mail_enqueue_unresolved
from authsuite.urls_util import origin as request_origin

#: The outbox resolver of link requests (registered in ``AccountsConfig.ready``).
RESOLVER = "accounts.link_request"

#: What was asked for, by purpose, as the notices word it.
ASKED = {"magic_link": gettext_lazy("a sign-in link"),
         "password_reset": gettext_lazy("a password reset link")}

#: The notice each reason for withholding a link mails the address (``link_withheld``).
WITHHELD_NOTICES = {"inactive": "account_inactive", "not_login_address": "not_login_address"}


@dataclass(frozen=True)
class _Link:
    token_purpose: str
    timeout: str  # the accounts setting of its lifetime
    url_name: str
    signal: Signal
    staff_sends: bool  # staff can send it from the admin: its signal carries ``by``
    enabled: str = ""  # the accounts setting that turns these links off, if one does


#: Each purpose's link: the email template is named as the purpose.
LINKS = {
    "magic_link": _Link(tokens.Purpose.MAGIC_LINK, "MAGIC_LINK_TIMEOUT",
                        "accounts:magic_link_confirm", signals.magic_link_requested, False,
                        enabled="MAGIC_LINK_ENABLED"),
    "password_reset": _Link(tokens.Purpose.PASSWORD_RESET, "PASSWORD_RESET_TIMEOUT",
                            "accounts:password_reset_confirm", signals.password_reset_requested,
                            True),
}


def link_request_queue(request, *, email: str, purpose: str) -> None:
    """Queue the answer to a request for a link to ``email`` (normalized; ``purpose``:
    ``magic_link``, ``password_reset``), which the mail worker decides. The caller counted
    the request against its rate limits first, the same in every case.

    One row, the same whatever the address: nothing here may depend on whether an account
    has it. The row keeps what the answer needs of the request: the links' scheme and host
    and (through the outbox) the client's IP, user agent and request id.

    It expires when the link asked for would have, had it been issued now (the purpose's
    lifetime setting): still undecided then (the workers or the broker down all along), it
    is dropped undecided rather than answered with a fresh link long after it was asked for.
    """
    lifetime = getattr(app_settings, LINKS[purpose].timeout)
    with transaction.atomic():
        mail_enqueue_unresolved(
            resolver=RESOLVER, to=email, request=request,
            expires_at=timezone.now() + timedelta(seconds=lifetime),
            context={"email": email, "purpose": purpose, "origin": request_origin(request)})


def link_request_resolve(message) -> dict | None:
    """Decide a queued link request (in the mail worker, once; see
    ``authsuite.outbox.resolver_register``): the message to send, or None.

    The active account that signs in with the address gets a link, voiding its older ones
    (``magic_link_requested``, ``password_reset_requested``), unless a link issued for a
    newer request answers this one already (None, nothing recorded); otherwise the case is
    recorded and the address told (``unknown_address_asked``, ``link_withheld``); nothing,
    either, for a sign-in link asked for before sign-in links were turned off. The
    signals are sent without a request (``request`` None); the audit events take the asking
    request's IP, user agent and request id from the restored context.
    """
    asked = message.context
    email, purpose = asked["email"], asked["purpose"]
    link = LINKS[purpose]
    if link.enabled and not getattr(app_settings, link.enabled):
        # Turned off since it was asked for: the link would be refused, and a notice about
        # one is no use either. Nothing is sent or recorded.
        return None
    where = {"origin": asked["origin"], "when": message.created_at}
    user = get_by_email(email)
    if user is not None and user.is_active:
        # Read again under the account's row lock, which a change of its login address and
        # a deactivation hold until they commit: a link issued beside one of them would
        # outlive the voiding of its links (a live link in the mailbox the account just
        # left, or one that enabling the account again revives). Another decision for the
        # account waits here too, and then sees the link it issued (and voids it).
        lock_user_row(user)
        user = get_by_email(email)
    if user is not None and user.is_active:
        if _newer_link_issued(message, user=user, purpose=purpose):
            return None
        return link_issue(None, user=user, purpose=purpose, **where)
    held = address_rows_holder(email)
    if user is None and held is None:
        return unknown_address_asked(email=email, purpose=purpose, **where)
    user = user or held
    return link_withheld(user=user, email=email, purpose=purpose,
                         reason="inactive" if not user.is_active else "not_login_address",
                         when=message.created_at)


def _newer_link_issued(message, *, user, purpose: str) -> bool:
    """Whether ``user`` was issued a link of ``purpose`` for a request made after
    ``message`` (or sent by staff since): decided late (its task lost and swept up, its
    decision retried), this request is answered by that link. Its own would void it, the
    newest request's, or mail a new one after it was used (a reset link once the password
    was reset)."""
    return OutboxMessage.objects.filter(
        pk__gt=message.pk, user=user, template=mail_template(purpose)).exists()


# message: the mail's fields, its link among them.
@sensitive_variables("raw", "message")
def link_issue(request, *, user, purpose: str, origin: str | None = None,
               when: datetime | None = None, by=None) -> dict:
    """Issue ``user`` a link of ``purpose`` to its login address, voiding its older ones,
    and record it; returns the message that carries it (``link_message``). The link's
    lifetime starts now. In the caller's transaction. ``by``: the staff member who sends a
    reset link from the admin (its signal carries it)."""
    link = LINKS[purpose]
    email = user_email(user)
    lifetime = getattr(app_settings, link.timeout)
    raw = tokens.token_issue(user=user, purpose=link.token_purpose, email=email,
                             lifetime=lifetime)
    message = link_message(request, template=purpose, user=user, email=email,
                           url_name=link.url_name, token=raw, token_purpose=link.token_purpose,
                           lifetime=lifetime, origin=origin, when=when, by=by)
    link.signal.send(sender=user.__class__, request=request, user=user,
                     **({"by": by} if link.staff_sends else {}))
    return message


def unknown_address_asked(*, email: str, purpose: str, origin: str,
                          when: datetime | None = None) -> dict | None:
    """A link was asked for ``email``, which no account has: it is recorded (the
    ``unknown_address_asked`` signal) and the address is told, as a known one gets its link
    (``EMAIL_UNKNOWN_ACCOUNTS``); returns that notice, or None."""
    signals.unknown_address_asked.send(
        sender=type(None), request=None, identifier=email, purpose=purpose)
    if not app_settings.EMAIL_UNKNOWN_ACCOUNTS:
        return None
    signup_url = ""
    if app_settings.SIGNUP_OPEN:
        signup_url = (app_settings.FRONTEND_URLS.get("signup")
                      or origin + reverse("accounts:signup"))
    return notice_message(template="unknown_account", user=None, email=email, when=when,
                          asked=str(ASKED[purpose]), signup_url=signup_url)


def link_withheld(*, user, email: str, purpose: str, reason: str,
                  when: datetime | None = None) -> dict | None:
    """A link was asked for ``email`` of ``user``, who gets none: the account is disabled
    (``reason`` ``inactive``) or the address is another of its addresses, not the one it
    signs in with (``not_login_address``). It is recorded (the ``link_withheld`` signal)
    and the address is told why, under ``EMAIL_UNKNOWN_ACCOUNTS`` as an unknown one is;
    returns that notice, or None.

    The notice names no other address of the account: a second address's mailbox may no
    longer be its owner's (an old job's, a lapsed domain's), and anyone can make this
    notice go out by typing the address, so the login address, which is all an attack on
    sign-in needs, stays out of it.
    """
    signals.link_withheld.send(sender=user.__class__, request=None, user=user,
                               email=email, purpose=purpose, reason=reason)
    if not app_settings.EMAIL_UNKNOWN_ACCOUNTS:
        return None
    return notice_message(template=WITHHELD_NOTICES[reason], user=user, email=email,
                          when=when, asked=str(ASKED[purpose]))
