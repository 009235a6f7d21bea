"""Creating an account."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts import pipeline, signals
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import (
    address_holder,
    claims_lock,
    claims_release,
    verification_send,
)
from accounts.flows.limits import rate_limit
from accounts.flows.mail import send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.passwords import CHECK_UNAVAILABLE
from accounts.users import new_user


@dataclass
class SignupResult:
    #: True when the person must follow the link in their inbox before signing in.
    verification_sent: bool
    login: pipeline.LoginResult | None = None


# Hidden whole, with every validator beneath: Django's and a project's own hold the
# password under names of their own.
@sensitive_variables()
def password_check(password: str, user, *, field: str = "password") -> None:
    """The password policy. A password refused only because the breach check could not be
    made is ``password_check_unavailable`` (the client may try the same one again later);
    any other refusal is ``password_invalid``."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        unchecked = {error.code for error in exc.error_list} == {CHECK_UNAVAILABLE}
        raise FlowError(
            AccountsError.PASSWORD_CHECK_UNAVAILABLE if unchecked
            else AccountsError.PASSWORD_INVALID,
            exc.messages[0], field=field, messages=exc.messages,
        ) from None


def address_taken_answer(request, *, holder, email: str) -> None:
    """A sign-up named ``email``, which ``holder`` holds: its mailbox is told it has an
    account, and the attempt is recorded (``signup_address_taken``). The event and the
    message stand for a new account's rows and link, so that the two answers cost alike
    (``bench enumeration``)."""
    send_notice(request, template="account_exists", user=None, email=email)
    signals.signup_address_taken.send(sender=holder.__class__, request=request, user=holder,
                                      email=email)


# raw_password: Django's set_password, below, holds the password under that name.
@sensitive_variables("password", "raw_password")
def signup(
    request, *, email: str, password: str, name: str = "", honeypot: str = "",
    next_url: str = "",
) -> SignupResult:
    """Create an account; sign it in unless email verification is mandatory.

    With mandatory verification the outcome is identical for a new and an existing
    address (the owner of an existing one is told by email), so signup reveals nothing.
    An address another account has only typed in (unverified) is free to sign up with.
    """
    if not app_settings.SIGNUP_OPEN:
        raise FlowError(AccountsError.SIGNUP_CLOSED, _("Sign-up is closed."))
    email = normalize_email(email)
    # Per address too, as for sign-in links: each attempt with a taken address mails its
    # owner, so an IP limit alone would let many IPs flood one mailbox. A new address is
    # counted the same way, so the limit answers alike for both.
    rate_limit(request, "signup", account=email)
    mandatory = app_settings.EMAIL_VERIFICATION == "mandatory"
    candidate = new_user(email, name=name)
    password_check(password, candidate)
    if honeypot:
        # A bot filled the hidden field: answer like a success and do nothing.
        return SignupResult(verification_sent=True)
    with transaction.atomic():
        # Waits for a verification of this address in flight, so that it is either held
        # below or refused to the verifying account (which sees this account's address).
        claims_lock(email)
        holder = address_holder(email)
        if holder is not None:
            make_password(password)  # same cost as the real path: no timing difference
            address_taken_answer(request, holder=holder, email=email)
            return SignupResult(verification_sent=True)
        verified = app_settings.EMAIL_VERIFICATION == "none"
        try:
            with transaction.atomic():
                candidate.set_password(password)
                candidate.save()
                EmailAddress.objects.create(
                    user=candidate, email=email, primary=True, verified=verified
                )
        except IntegrityError:  # the same address registered (or verified) concurrently
            return SignupResult(verification_sent=True)
        user = candidate
        if verified:
            claims_release(user=user, email=email)
        else:
            verification_send(request, user=user, email=email)
        signals.user_signed_up.send(sender=user.__class__, request=request, user=user)
    if mandatory:
        return SignupResult(verification_sent=True)
    result = pipeline.login_begin(
        request, user=user, method="signup", amr=["pwd"], next_url=next_url
    )
    return SignupResult(verification_sent=not verified, login=result)
