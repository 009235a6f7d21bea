"""Verifying addresses: links, marking verified, and what an unverified login address may not do."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts import signals, tokens
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email.claims import IN_USE, claims_lock, claims_release, held_elsewhere
from accounts.flows.limits import rate_limit
from accounts.flows.login import confirm_password, password_check
from accounts.flows.mail import send_link, send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.users import user_email

INVALID_LINK = gettext_noop("This verification link is invalid, expired or already used.")
PASSWORD_NEEDED = gettext_noop("Enter the password of the account to confirm this address.")
SIGN_IN_NEEDED = gettext_noop(
    "Sign in to the account this address was added to, then open the link again.")


def needs_verification(user) -> bool:
    """Mandatory verification applies to addresses the user registered themselves.

    Accounts created by staff or ``createsuperuser`` have no address row yet and are
    trusted as created; they get one, unverified, the first time it is needed.
    """
    if app_settings.EMAIL_VERIFICATION != "mandatory":
        return False
    return EmailAddress.objects.filter(
        user=user, email=normalize_email(user_email(user)), verified=False
    ).exists()


def unproven_address(user) -> str:
    """The account's login address while it waits for verification, else "" (always
    where verification is off, ``"none"``: the project trusts addresses as typed, those
    left unverified under an earlier setting too)."""
    if app_settings.EMAIL_VERIFICATION == "none":
        return ""
    email = normalize_email(user_email(user))
    if email and EmailAddress.objects.filter(user=user, email=email, verified=False).exists():
        return email
    return ""


def address_proven_required(user, *, adding: str) -> None:
    """Refuse to attach ``adding`` (a passkey, an authenticator app) to an account whose
    login address still waits for verification.

    Whoever signs up with an address is not yet known to own it. Were they to attach a
    way in before its owner proves the mailbox, that way in would outlive the proof (the
    password nobody proved is dropped then, a factor would not be): a hijacking prepared in
    advance.
    """
    email = unproven_address(user)
    if email:
        raise FlowError(
            AccountsError.EMAIL_UNVERIFIED,
            _("Verify your email address before adding %(what)s: open the link we sent to "
              "%(email)s.")
            % {"what": adding, "email": email},
            status=403,
        )


@sensitive_variables("raw")
def verification_send(request, *, user, email: str) -> None:
    raw = tokens.token_issue(
        user=user, purpose=tokens.Purpose.VERIFY_EMAIL, email=email,
        lifetime=app_settings.EMAIL_VERIFICATION_TIMEOUT,
    )
    send_link(
        request, template="verify_email", user=user, email=email,
        url_name="accounts:email_verify", token=raw, token_purpose=tokens.Purpose.VERIFY_EMAIL,
        lifetime=app_settings.EMAIL_VERIFICATION_TIMEOUT,
    )


def verification_resend(request, *, user, email: str | None = None) -> None:
    """Send a new verification link (rate limited per account and IP)."""
    email = normalize_email(email or user_email(user))
    rate_limit(request, "verification_resend", account=str(user.pk))
    address = EmailAddress.objects.filter(user=user, email=email, verified=False).first()
    if address is None:
        return
    with transaction.atomic():
        if held_elsewhere(email, user=user):
            # A claim on an address another account has since taken: its owner gets the
            # notice email_add sends, not a link that could only be refused.
            send_notice(request, template="email_in_use", user=None, email=email)
            return
        verification_send(request, user=user, email=email)


def mark_verified(request, *, user, email: str, by=None) -> bool:
    """Mark ``email`` of ``user`` verified; True if it was not yet.

    Only one account holds an address verified: the other accounts' unverified rows of it
    are removed and their links voided, in the same transaction. An address another
    account has verified, or signs in with, is refused with ``email_in_use`` and nothing is
    written (also when another request verified it a moment ago).
    """
    email = normalize_email(email)
    in_use = FlowError(AccountsError.EMAIL_IN_USE, _(IN_USE))
    with transaction.atomic():
        try:
            with transaction.atomic():
                claims_lock(email)
                updated = EmailAddress.objects.filter(
                    user=user, email=email, verified=False
                ).update(verified=True, verified_at=timezone.now())
                if updated and held_elsewhere(email, user=user):
                    raise in_use  # rolls the update back
        except IntegrityError:  # accounts_one_verified_email: verified elsewhere meanwhile
            raise in_use from None
        if updated:
            claims_release(user=user, email=email)
            signals.email_verified.send(
                sender=user.__class__, request=request, user=user, email=email, by=by
            )
    return bool(updated)


def mark_verified_if_free(request, *, user, email: str) -> bool:
    """``mark_verified`` where verifying is a side effect of another flow (a magic link, a
    password reset): an address held elsewhere stays unverified and the flow goes on."""
    try:
        return mark_verified(request, user=user, email=email)
    except FlowError as error:
        if error.code != AccountsError.EMAIL_IN_USE:
            raise
        return False


@sensitive_variables("token")
def email_verify_check(request, *, token: str):
    """The verification link's token row if the link can still be used, else
    ``token_invalid`` (the same answer for a used, expired, voided or forged link); consumes
    nothing. Counted against the client's ``token_confirm`` limit.

    The confirmation page and the API call it before they show errors in the password
    typed, so a dead link is refused first; ``email_verify`` calls it itself."""
    rate_limit(request, "token_confirm")
    found = tokens.token_peek(token, purpose=tokens.Purpose.VERIFY_EMAIL)
    if found is None:
        raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
    return found


def _signed_in_as(request, user) -> bool:
    signed_in = getattr(request, "user", None)
    return signed_in is not None and signed_in.is_authenticated and signed_in.pk == user.pk


def verification_needs_password(request, user) -> bool:
    """Whether confirming a link for ``user`` needs their password as well.

    A link proves the mailbox, not who chose the account's password: someone may have
    signed up with another person's address, waiting for its owner to confirm it and hand
    them a verified account (pre-hijacking). So unless this browser is signed in as the
    account, the person confirming proves the password too. An account with no usable
    password has no password to ask for (see ``verification_sign_in_required``).
    """
    return not _signed_in_as(request, user) and user.has_usable_password()


def verification_sign_in_required(request, found) -> None:
    """Refuse (``sign_in_required``) to confirm ``found`` (a verification link's token row)
    for an account without a usable password, from a browser not signed in as it, when the
    address is not the one the account signs in with.

    Such an account (a passkey's, say) has no password to prove who is confirming, and the
    mailbox alone does not show that its owner wants the address on that account: someone
    who added another person's address to their own account would have them confirm it,
    holding the address against its owner, who could then no longer sign up with it. The
    login address is another matter: its mailbox signs in to the account anyway, by a
    sign-in link."""
    user = found.user
    if (_signed_in_as(request, user) or user.has_usable_password()
            or found.email == normalize_email(user_email(user))):
        return
    raise FlowError(AccountsError.SIGN_IN_REQUIRED, _(SIGN_IN_NEEDED))


@sensitive_variables("token", "password")
def email_verify(request, *, token: str, password: str = ""):
    found = email_verify_check(request, token=token)
    verification_sign_in_required(request, found)
    if verification_needs_password(request, found.user):
        if not password:
            raise FlowError(AccountsError.PASSWORD_REQUIRED, _(PASSWORD_NEEDED), field="password")
        if not user_email(found.user):
            # No login address to check it under (possible on django.contrib.auth's User):
            # the account's own password, counted as a reauthentication would be.
            confirm_password(request, user=found.user, password=password,
                             method="email_verify")
        else:
            try:
                checked = password_check(request, email=user_email(found.user),
                                         password=password)
            except FlowError as error:
                if error.code == AccountsError.INVALID_CREDENTIALS:
                    error.field = "password"  # shown on the field; the link stays usable
                raise
            if checked.pk != found.user.pk:  # the login address changed hands meanwhile
                raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
    with transaction.atomic():
        claims_lock(found.email)  # before the link is consumed: see claims_lock
        used = tokens.token_consume(token, purpose=tokens.Purpose.VERIFY_EMAIL)
        if used is None:
            raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
        # Refused (email_in_use) when another account holds the address: the whole
        # transaction rolls back, the link included. Whoever sees that has the mailbox.
        mark_verified(request, user=used.user, email=used.email)
    return used
