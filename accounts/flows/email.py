"""Email addresses: verification, adding, making primary, removing."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import signals, tokens
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.limits import rate_limit
from accounts.flows.login import confirm_password, password_check
from accounts.flows.mail import send_link, send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.users import get_by_email, login_address_taken, set_user_email, user_email

INVALID_LINK = "This verification link is invalid, expired or already used."
PASSWORD_NEEDED = "Enter the password of the account to confirm this address."
IN_USE = "Another account already uses this address."

# An account holds the addresses it has verified and its primary address (its login address,
# perhaps still waiting for verification). Its other unverified rows are claims only.
HOLDS = Q(verified=True) | Q(primary=True)


def primary_address(user) -> EmailAddress:
    """The user's primary address row, created on first use for users made elsewhere."""
    address = EmailAddress.objects.filter(user=user, primary=True).first()
    if address is None:
        address, _ = EmailAddress.objects.get_or_create(
            user=user, email=normalize_email(user_email(user)), defaults={"primary": True}
        )
    return address


def address_held(email: str) -> bool:
    """Whether some account holds ``email``: as its login address, its primary address or
    a verified one.

    Another account's unverified row is only a claim: anyone can type any address, so a
    claim must neither keep the address's owner from signing up with it nor tell the person
    who typed it whether it has an account.
    """
    email = normalize_email(email)
    return get_by_email(email) is not None or EmailAddress.objects.filter(HOLDS, email=email).exists()


def held_elsewhere(email: str, *, user) -> bool:
    """Whether an account other than ``user`` (None or unsaved: any account) holds ``email``."""
    if user is None or user.pk is None:
        return address_held(email)
    email = normalize_email(email)
    return login_address_taken(email, user=user) or EmailAddress.objects.filter(
        HOLDS, email=email).exclude(user=user).exists()


def claims_lock(email: str) -> None:
    """Lock every account's row of ``email`` until the transaction ends.

    Whatever verifies an address takes this first, before it consumes a link: two
    verifications of one address then run one after the other and the second finds its
    link voided, instead of each holding a lock the other waits for (a deadlock).
    """
    list(EmailAddress.objects.select_for_update().filter(email=normalize_email(email))
         .order_by("pk").values_list("pk", flat=True))


def claims_release(*, user, email: str) -> int:
    """``user`` holds ``email`` verified now: the other accounts' unverified rows of it go,
    and so do their pending links to it. Returns how many rows went.

    A primary row is never removed here (``mark_verified`` refuses an address that another
    account signs in with). No signal for the other accounts: their security activity would
    show this request's IP and device, which are the verifying person's.
    """
    email = normalize_email(email)
    removed, _ = EmailAddress.objects.filter(
        email=email, verified=False, primary=False).exclude(user=user).delete()
    # Filtered on the token's own columns (no join): see tokens.token_consume.
    tokens.OneTimeToken.objects.filter(
        purpose=tokens.Purpose.VERIFY_EMAIL, email=email, used_at__isnull=True,
        voided_at__isnull=True,
    ).exclude(user=user).update(voided_at=timezone.now())
    return removed


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


def verification_send(request, *, user, email: str) -> None:
    raw = tokens.token_issue(
        user=user, purpose=tokens.Purpose.VERIFY_EMAIL, email=email,
        lifetime=app_settings.EMAIL_VERIFICATION_TIMEOUT,
    )
    send_link(
        request, template="verify_email", user=user, email=email,
        url_name="accounts:email_verify", token=raw,
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


def verification_needs_password(request, user) -> bool:
    """Whether confirming a link for ``user`` needs their password as well.

    A link proves the mailbox, not who chose the account's password: someone may have
    signed up with another person's address, waiting for its owner to confirm it and hand
    them a verified account (pre-hijacking). So unless this browser is signed in as the
    account, the person confirming proves the password too. An account with no usable
    password has nothing to hijack with.
    """
    signed_in = getattr(request, "user", None)
    if signed_in is not None and signed_in.is_authenticated and signed_in.pk == user.pk:
        return False
    return user.has_usable_password()


def email_verify(request, *, token: str, password: str = ""):
    found = email_verify_check(request, token=token)
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


def email_add(request, *, user, email: str) -> None:
    """Add an address and send it a verification link.

    An address another account holds (its login address, or verified on it) is added as an
    unverified claim all the same, but its owner gets a notice instead of a link: the caller
    sees the same outcome and the same list, so this page cannot be used to find out who has
    an account. Another account's unverified row of the address does not stand in the way
    either: whichever account verifies it first keeps it.
    """
    email = normalize_email(email)
    limit = app_settings.MAX_EMAIL_ADDRESSES
    if EmailAddress.objects.filter(user=user).count() >= limit:
        raise FlowError(
            AccountsError.EMAIL_LIMIT,
            _("You can have at most %(n)d addresses.") % {"n": limit}, field="email",
        )
    rate_limit(request, "verification_resend", account=str(user.pk))
    with transaction.atomic():
        if email == normalize_email(user_email(user)) or EmailAddress.objects.filter(
                user=user, email=email).exists():
            return  # already this account's
        # Accounts made by staff, createsuperuser or before the suite was installed have no
        # address row until one is needed: their login address is held all the same.
        held = address_held(email)
        try:
            with transaction.atomic():
                EmailAddress.objects.create(user=user, email=email)
        except IntegrityError:  # the same address added by this account concurrently
            return
        signals.email_added.send(sender=user.__class__, request=request, user=user, email=email,
                                 by=None)
        if held:
            # The claim is listed like any other, so the list tells nothing either; no link
            # goes out, the address's owner is told, and verifying it would be refused.
            send_notice(request, template="email_in_use", user=None, email=email)
        elif app_settings.EMAIL_VERIFICATION != "none":
            verification_send(request, user=user, email=email)
        else:
            mark_verified(request, user=user, email=email)


def email_make_primary(request, *, user, address_id: int) -> None:
    """Make a verified address the login address; the old address is told."""
    with transaction.atomic():
        address = EmailAddress.objects.select_for_update().filter(
            user=user, pk=address_id
        ).first()
        if address is None:
            raise FlowError(AccountsError.EMAIL_NOT_FOUND, _("No such address."))
        if address.primary:
            return
        if not address.verified:
            if app_settings.EMAIL_VERIFICATION != "none":
                raise FlowError(AccountsError.EMAIL_UNVERIFIED,
                                _("Verify this address before using it to sign in."))
            # Trusted as typed (a row from before verification was turned off), as email_add
            # does: refused if another account holds it, and it stops being a mere claim.
            mark_verified(request, user=user, email=address.email)
        old = primary_address(user)
        EmailAddress.objects.filter(pk=old.pk).update(primary=False)
        EmailAddress.objects.filter(pk=address.pk).update(primary=True)
        set_user_email(user, address.email)
        user.save(update_fields=[user.get_email_field_name()])
        links_to_old_address_void(user, old.email)
        send_notice(
            request, template="email_changed", user=user, email=old.email,
            old_email=old.email, new_email=address.email,
        )
        signals.email_changed.send(
            sender=user.__class__, request=request, user=user, old_email=old.email,
            new_email=address.email, by=None,
        )


def links_to_old_address_void(user, email: str) -> int:
    """The sign-in address moved off ``email``: links already mailed there (sign-in, reset,
    reauthentication, verification) stop working. That mailbox may be the lost one."""
    return tokens.OneTimeToken.objects.filter(
        user=user, email=normalize_email(email), used_at__isnull=True, voided_at__isnull=True,
    ).update(voided_at=timezone.now())


def email_verify_by_staff(request, *, user, email: str) -> bool:
    """Staff mark ``email`` of ``user`` verified in the admin (``mark_verified``, with them as
    ``by``: refused with ``email_in_use`` when another account holds it). True if it was not
    verified yet; the address is then told, in the same transaction, so the notice is queued
    exactly when the verification is kept. Staff take someone's word that a mailbox is
    theirs: its owner hears of it, and can say so if it was not them."""
    email = normalize_email(email)
    with transaction.atomic():
        verified = mark_verified(request, user=user, email=email, by=request.user)
        if verified:
            send_notice(request, template="email_verified_by_staff", user=user, email=email,
                        signs_in=email == normalize_email(user_email(user)))
    return verified


def email_set_by_staff(request, *, user, old_email: str) -> None:
    """Staff changed ``user``'s login address in the admin: the address rows follow (the new
    one primary and verified, trusted as staff typed it, and told so unless it was verified
    already; the old one's row, if it had one, kept as another address), links mailed to the
    old address stop working, and the old address is told, as when the user changes it."""
    new = normalize_email(user_email(user))
    old_email = normalize_email(old_email)
    with transaction.atomic():
        EmailAddress.objects.filter(user=user, primary=True).exclude(email=new).update(
            primary=False)
        address, _created = EmailAddress.objects.get_or_create(
            user=user, email=new, defaults={"primary": True})
        if not address.primary:
            EmailAddress.objects.filter(pk=address.pk).update(primary=True)
        email_verify_by_staff(request, user=user, email=new)
        if old_email and old_email != new:
            links_to_old_address_void(user, old_email)
            send_notice(request, template="email_changed", user=user, email=old_email,
                        old_email=old_email, new_email=new)
            signals.email_changed.send(sender=user.__class__, request=request, user=user,
                                       old_email=old_email, new_email=new, by=request.user)


def email_add_by_staff(request, *, user, email: str, verified: bool) -> EmailAddress:
    """Staff add ``email`` to ``user``'s addresses in the admin, verified if they say so
    (``email_verify_by_staff``: refused with ``email_in_use`` if another account holds it,
    the address told). No link is mailed: the user can ask for one from their addresses
    page."""
    email = normalize_email(email)
    with transaction.atomic():
        address = EmailAddress.objects.create(user=user, email=email)
        signals.email_added.send(sender=user.__class__, request=request, user=user, email=email,
                                 by=request.user)
        if verified:
            email_verify_by_staff(request, user=user, email=email)
            address.refresh_from_db()
    return address


def email_remove(request, *, user, address_id: int, by=None) -> None:
    """Remove an address of ``user`` (not the one they sign in with); links mailed to it
    stop working. ``by``: the staff member doing it, if it is not the user."""
    with transaction.atomic():
        address = EmailAddress.objects.filter(user=user, pk=address_id).first()
        if address is None:
            raise FlowError(AccountsError.EMAIL_NOT_FOUND, _("No such address."))
        if address.primary:
            raise FlowError(
                AccountsError.EMAIL_PRIMARY,
                _("You sign in with this address. Make another address primary first."),
            )
        address.delete()
        tokens.OneTimeToken.objects.filter(
            user=user, email=address.email, used_at__isnull=True
        ).update(voided_at=timezone.now())
        signals.email_removed.send(
            sender=user.__class__, request=request, user=user, email=address.email, by=by
        )
