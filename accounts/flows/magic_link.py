"""Sign-in with a link sent by email (one factor, amr ``email``)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts import authrecord, links, lockout, pipeline, sessions, signals, tokens
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import addresses_unproven_remove, mark_verified_if_free
from accounts.flows.limits import rate_limit
from accounts.flows.link_request import link_request_queue
from accounts.flows.mail import send_link
from accounts.models import normalize_email
from accounts.users import lock_user_row, user_email

INVALID_LINK = gettext_noop(
    "This sign-in link is invalid, expired or already used. Request a new one.")
REAUTH_INVALID_LINK = gettext_noop(
    "This link is invalid, expired or already used, or was asked for in another browser or "
    "account. Ask for a new one where you are signed in.")
#: The reference (``links.reference``) of the reauthentication link this session asked for.
REAUTH_SESSION_KEY = "_authsuite_reauth_link"


def _enabled() -> None:
    if not app_settings.MAGIC_LINK_ENABLED:
        raise FlowError(AccountsError.MAGIC_LINK_DISABLED, _("Sign-in links are turned off."))


def magic_link_request(request, *, email: str) -> None:
    """Ask for a sign-in link to ``email``: the mail worker sends it if an active account
    signs in with that address, else a notice saying why none came
    (``link_request_resolve``). The answer and the request's work are the same either way."""
    _enabled()
    identifier = normalize_email(email)
    rate_limit(request, "magic_link", account=identifier)
    link_request_queue(request, email=identifier, purpose="magic_link")


@sensitive_variables("token")
def magic_link_check(request, *, token: str):
    """The link is still usable (GET of the confirmation page); consumes nothing."""
    _enabled()
    rate_limit(request, "token_confirm")
    found = tokens.token_peek(token, purpose=tokens.Purpose.MAGIC_LINK)
    if found is None:
        raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
    return found


@sensitive_variables("token")
def magic_link_login(request, *, token: str, next_url: str = "") -> pipeline.LoginResult:
    """Consume the link (exactly once, even under concurrent clicks) and begin the pipeline."""
    _enabled()
    rate_limit(request, "token_confirm")
    with transaction.atomic():
        # The account's row before its token, as password_reset_complete takes them.
        found = tokens.token_peek(token, purpose=tokens.Purpose.MAGIC_LINK)
        if found is not None:
            lock_user_row(found.user)
        used = tokens.token_consume(token, purpose=tokens.Purpose.MAGIC_LINK)
        if used is None:
            raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
        user = used.user
        # The link reached this mailbox, so the address is proven.
        if mark_verified_if_free(request, user=user, email=used.email):
            # Pre-hijacking: someone may have signed up with this address and a password of
            # their choosing, waiting for the owner to verify it. The owner proves the mailbox
            # now: a password nobody proved is dropped (they can set one by reset), and the
            # addresses and sessions of whoever held the account until now go with it.
            if user.has_usable_password():
                user.set_unusable_password()
                user.save(update_fields=["password"])
            addresses_unproven_remove(request, user=user)
            sessions.sessions_end(user, request=request, reason="address_verified")
        signals.magic_link_used.send(sender=user.__class__, request=request, user=user)
    return pipeline.login_begin(
        request, user=user, method="magic_link", amr=["email"], next_url=next_url
    )


# --- reauthentication by link ---------------------------------------------------------------

@sensitive_variables("raw")
def reauthentication_link_request(request) -> str:
    """Email the signed-in user a link that confirms it is them, for an account without a
    password (magic links, passkeys): it works once, briefly, and only in this browser,
    signed in as this account. Returns the address it went to.
    """
    _enabled()
    user = request.user
    email = user_email(user)
    if user.has_usable_password() or not email:
        raise FlowError(AccountsError.USE_PASSWORD,
                        _("Confirm it is you with your password."))
    rate_limit(request, "magic_link", account=lockout.user_identifier(user))
    with transaction.atomic():
        raw = tokens.token_issue(
            user=user, purpose=tokens.Purpose.REAUTHENTICATE, email=email,
            lifetime=app_settings.MAGIC_LINK_TIMEOUT,
        )
        send_link(request, template="reauthenticate", user=user, email=email,
                  url_name="accounts:reauthenticate_confirm", token=raw,
                  token_purpose=tokens.Purpose.REAUTHENTICATE,
                  lifetime=app_settings.MAGIC_LINK_TIMEOUT)
        # Kept as a reference only: the session never holds a usable token.
        request.session[REAUTH_SESSION_KEY] = links.reference(raw)
    return email


@sensitive_variables("token")
def reauthentication_link_check(request, *, token: str):
    """The link is usable here: by the browser that asked for it, still signed in as its
    account. Consumes nothing (GET of the confirmation page)."""
    _enabled()
    rate_limit(request, "token_confirm")
    found = tokens.token_peek(token, purpose=tokens.Purpose.REAUTHENTICATE)
    asked_here = request.session.get(REAUTH_SESSION_KEY, "")
    if (found is None or not request.user.is_authenticated or found.user_id != request.user.pk
            or not links.referenced(token, asked_here)):
        raise FlowError(AccountsError.TOKEN_INVALID, _(REAUTH_INVALID_LINK))
    return found


@sensitive_variables("token")
def reauthenticate_by_link(request, *, token: str) -> dict:
    """Consume the link and refresh the authentication record (a step up, amr ``email``)."""
    reauthentication_link_check(request, token=token)
    user = request.user
    with transaction.atomic():
        if tokens.token_consume(token, purpose=tokens.Purpose.REAUTHENTICATE) is None:
            raise FlowError(AccountsError.TOKEN_INVALID, _(REAUTH_INVALID_LINK))
        request.session.pop(REAUTH_SESSION_KEY, None)
        record = authrecord.record_step_up(request, ["email"])
        signals.reauthenticated.send(sender=user.__class__, request=request, user=user,
                                     method="email")
    return record
