"""Which account holds an address (claims and holds), and the lock that verifying takes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts import tokens
from accounts.models import EmailAddress, normalize_email
from accounts.users import get_by_email, login_address_taken, user_email
from authsuite import db

IN_USE = gettext_noop("Another account already uses this address.")  # translated where shown

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
    return address_holder(email) is not None


def address_holder(email: str):
    """The account that holds ``email`` (see ``address_held``), or None."""
    email = normalize_email(email)
    return get_by_email(email) or address_rows_holder(email)


def address_rows_holder(email: str):
    """The account whose address rows hold ``email`` (``HOLDS``), or None; ``email`` is
    normalized.

    One compiled statement (``authsuite.db``): this runs when a sign-up, sign-in link or
    reset request names an address no account signs in with, and only then, so it must cost
    no more than the work a known address gets instead, or the time of the answer would tell
    the two apart.
    """
    model = get_user_model()
    return db.get_through(model, using=router.db_for_read(model), related=EmailAddress,
                          link="user", where={"email": email}, any_of=("verified", "primary"))


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
