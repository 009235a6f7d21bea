"""Sign-up with a passkey only (``AUTHSUITE_PASSKEYS_SIGNUP``).

The person gives an email address; the account is created inactive with no password, and
a link is mailed. Opening it proves the address; creating a passkey there activates the
account and signs it in. Until then nothing can sign in to it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import pipeline, tokens
from accounts import signals as account_signals
from accounts.app_settings import app_settings as accounts_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import address_held, claims_lock, mark_verified
from accounts.flows.limits import rate_limit
from accounts.flows.mail import send_link, send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.users import get_by_email, new_user
from passkeys import ceremonies, flows
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError
from passkeys.models import Passkey

CEREMONY = "signup"
INVALID_LINK = "This sign-up link is invalid, expired or already used. Start again."


def _enabled() -> None:
    if not app_settings.SIGNUP or not accounts_settings.SIGNUP_OPEN:
        raise FlowError(PasskeyError.SIGNUP_DISABLED, _("Sign-up with a passkey is closed."),
                        status=403)


def signup_request(request, *, email: str, name: str = "") -> None:
    """Same outcome whether or not the address has an account (its owner is told).

    An address another account has only typed in (unverified) is free to sign up with."""
    _enabled()
    email = normalize_email(email)
    rate_limit(request, "signup")
    with transaction.atomic():
        claims_lock(email)  # as in accounts.flows.signup.signup
        existing = get_by_email(email)
        if existing is not None or address_held(email):
            if existing is not None and _unfinished(existing):
                user = existing  # an unfinished passkey sign-up: send a fresh link
            else:
                send_notice(request, template="account_exists", user=None, email=email)
                return
        else:
            user = new_user(email, name=name[:150], is_active=False)
            user.set_unusable_password()
            try:
                with transaction.atomic():
                    user.save()
                    EmailAddress.objects.create(user=user, email=email, primary=True)
            except IntegrityError:  # the same address signed up concurrently: its link goes
                return
        raw = tokens.token_issue(user=user, purpose=tokens.Purpose.SIGNUP, email=email,
                                 lifetime=accounts_settings.EMAIL_VERIFICATION_TIMEOUT)
        send_link(request, template="passkey_signup", user=user, email=email,
                  url_name="passkeys:signup_complete", token=raw)


def _unfinished(user) -> bool:
    """An account this sign-up created and nobody ever signed in to.

    A disabled account is inactive and may have no password too; activating it here would
    undo what staff (or its owner, closing it) did."""
    return (not user.is_active and not user.has_usable_password() and user.last_login is None
            and not Passkey.objects.filter(user=user).exists())


def signup_check(request, *, token: str):
    _enabled()
    rate_limit(request, "token_confirm")
    found = tokens.token_peek(token, purpose=tokens.Purpose.SIGNUP)
    if found is None or not _unfinished(found.user):
        raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
    return found


def signup_options(request, *, token: str) -> dict:
    found = signup_check(request, token=token)
    user = found.user
    return ceremonies.registration_options(
        request, user=user, handle=flows.user_handle(user), name=found.email,
        display_name=getattr(user, "name", "") or found.email, exclude=[],
        ceremony=CEREMONY, user_id=str(user.pk),
    )


def signup_complete(request, *, token: str, credential, name: str = "") -> pipeline.LoginResult:
    found = signup_check(request, token=token)
    user = found.user
    with transaction.atomic():
        passkey = flows.register_verify(request, user=user, credential=credential, name=name,
                                        ceremony=CEREMONY)
        used = tokens.token_consume(token, purpose=tokens.Purpose.SIGNUP)
        if used is None:
            raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
        type(user)._default_manager.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        # Refused (email_in_use, all of this rolled back) only if another account verified
        # the address in the moment since the sign-up began; other accounts' unverified
        # rows of it go.
        mark_verified(request, user=user, email=used.email)
        account_signals.user_signed_up.send(sender=type(user), request=request, user=user)
    amr = flows.amr_for(backup_eligible=passkey.backup_eligible,
                        user_verified=passkey.user_verified)
    return pipeline.login_begin(request, user=user, method="passkey", amr=amr)
