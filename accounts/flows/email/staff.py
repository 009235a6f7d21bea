"""Staff changing a user's addresses in the admin: verify, set the login address, add."""

from __future__ import annotations

from django.db import transaction

from accounts import signals
from accounts.flows.email.addresses import links_to_old_address_void
from accounts.flows.email.verification import mark_verified
from accounts.flows.mail import send_notice
from accounts.models import EmailAddress, normalize_email
from accounts.users import user_email


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
                        old_email=old_email, new_email=new, by=request.user)
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
