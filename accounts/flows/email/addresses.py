"""The user's own addresses: add, make primary, remove."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import signals, tokens
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email.claims import address_held, primary_address
from accounts.flows.email.verification import mark_verified, verification_send
from accounts.flows.limits import rate_limit
from accounts.flows.mail import send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.users import account_row_lock, lock_user_row, set_user_email, user_email


def _limit_check(user) -> None:
    limit = app_settings.MAX_EMAIL_ADDRESSES
    if EmailAddress.objects.filter(user=user).count() >= limit:
        raise FlowError(
            AccountsError.EMAIL_LIMIT,
            _("You can have at most %(n)d addresses.") % {"n": limit}, field="email",
        )


def email_add(request, *, user, email: str) -> None:
    """Add an address and send it a verification link.

    An address this account has already (its login address, or a row of it, in any
    spelling of it) is refused (``email_already_added``) and nothing is done: no link goes
    out, and saying one did would leave the person waiting for it. That tells the caller
    nothing the account's own list does not, and it costs no attempt of the rate limit.

    An address another account holds (its login address, or verified on it) is added as an
    unverified claim all the same, but its owner gets a notice instead of a link: the caller
    sees the same outcome and the same list, so this page cannot be used to find out who has
    an account. Another account's unverified row of the address does not stand in the way
    either: whichever account verifies it first keeps it.

    The account's changes to its addresses (this, ``email_make_primary``, ``email_remove``)
    take its user row's lock first, so on PostgreSQL concurrent ones run one after the other.
    """
    email = normalize_email(email)
    # A full list and the account's own address are refused before the attempt counts
    # against the rate limit: neither sends anything, and both are the account's own
    # business. Every other address, another account's included, counts alike.
    _limit_check(user)
    _not_added_yet(user, email)
    rate_limit(request, "verification_resend", account=str(user.pk))
    with transaction.atomic():
        # Both again under the lock: two adds at once would each read the list before the
        # other's insert, and both pass.
        account_row_lock(user)
        _limit_check(user)
        _not_added_yet(user, email)
        # Accounts made by staff, createsuperuser or before the suite was installed have no
        # address row until one is needed: their login address is held all the same.
        held = address_held(email)
        try:
            with transaction.atomic():
                EmailAddress.objects.create(user=user, email=email)
        except IntegrityError:  # the same address added by this account concurrently
            raise _already_added() from None
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


def _not_added_yet(user, email: str) -> None:
    """Refuse ``email``, in its normal form, if this account has it already: its login
    address (which may have no row) or a row of it."""
    if email == normalize_email(user_email(user)) or EmailAddress.objects.filter(
            user=user, email=email).exists():
        raise _already_added()


def _already_added() -> FlowError:
    return FlowError(AccountsError.EMAIL_ALREADY_ADDED,
                     _("This address is on your account already."), field="email")


def email_make_primary(request, *, user, address_id: int) -> None:
    """Make a verified address the login address; the old address is told."""
    with transaction.atomic():
        # Under the user row's lock: a removal of this address waits and then finds it
        # primary (it would otherwise delete the row it read as not primary, leaving the
        # account no primary row), and two addresses made primary at once take turns
        # instead of both demoting the same old row (a unique violation, a 500).
        lock_user_row(user)
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


def addresses_unproven_remove(request, *, user) -> int:
    """``user``'s login address was just proven for the first time, by a link mailed to it
    that asked for nothing else (a sign-in or reset link): every other address of the
    account goes, each recorded as ``email_removed``. Returns how many went.

    Until then the account was held by whoever signed up with the address, who need not be
    its owner (pre-hijacking). An address they added, verified in their own mailbox, would
    stay on the owner's account as theirs: a way to talk staff into handing it over, or to
    be made the sign-in address by mistake. The owner adds again what they want."""
    removed = 0
    for address_id in EmailAddress.objects.filter(user=user, primary=False).order_by(
            "pk").values_list("pk", flat=True):
        email_remove(request, user=user, address_id=address_id)
        removed += 1
    return removed


def email_remove(request, *, user, address_id: int, by=None) -> None:
    """Remove an address of ``user`` (not the one they sign in with); links mailed to it
    stop working. ``by``: the staff member doing it, if it is not the user."""
    with transaction.atomic():
        lock_user_row(user)  # see email_make_primary
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
