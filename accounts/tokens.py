"""Single-use emailed secrets: magic links, email verification, password reset.

A token is 256 bits from the CSPRNG, sent once and stored only as a keyed digest. Issuing a
new token voids the user's older ones of the same purpose. Consuming is one conditional
UPDATE, so of two concurrent uses exactly one wins on every database.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import router
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import OneTimeToken, normalize_email
from accounts.users import stores_is_active, user_email
from authsuite import crypto, db

Purpose = OneTimeToken.Purpose
MAX_TOKEN_LENGTH = 128


def _now():
    return timezone.now()


@sensitive_variables("raw")
def token_issue(*, user, purpose: str, email: str, lifetime: int) -> str:
    """Create a token and return its raw value (to put in an email, never to store)."""
    now = _now()
    using = router.db_for_write(OneTimeToken)
    # Compiled statements (authsuite.db): a link request for a known address should cost
    # little more than one for an unknown address, which issues nothing.
    db.update(OneTimeToken, using=using, values={"voided_at": now}, where={
        "user": user, "purpose": purpose, "used_at": None, "voided_at": None})
    raw = crypto.new_token()
    db.insert(OneTimeToken, using=using, values={
        "purpose": purpose, "user": user, "email": email,
        "digest": crypto.token_digest(raw, purpose=purpose),
        "created_at": now, "expires_at": now + timedelta(seconds=lifetime),
        "used_at": None, "voided_at": None,
    })
    return raw


@sensitive_variables()
def could_be_token(raw: str) -> bool:
    """Whether ``raw`` has the shape of an emailed token, worth a digest and a lookup."""
    return bool(raw) and len(raw) <= MAX_TOKEN_LENGTH and raw.isascii()


@sensitive_variables("raw")
def _usable(raw: str, purpose: str):
    if not could_be_token(raw):
        return OneTimeToken.objects.none()
    tokens = OneTimeToken.objects.filter(
        digest__in=crypto.token_digests(raw, purpose=purpose), purpose=purpose,
        used_at__isnull=True, voided_at__isnull=True, expires_at__gt=_now(),
    )
    if stores_is_active():
        tokens = tokens.filter(user__is_active=True)
    return tokens


#: Links mailed to the account's login address: they work only while it still is. The
#: suite's own address changes void them; this also holds when a project's own code sets
#: the address directly, so the mailbox an account left keeps no way into it.
TO_LOGIN_ADDRESS = frozenset({Purpose.MAGIC_LINK, Purpose.PASSWORD_RESET, Purpose.REAUTHENTICATE})


@sensitive_variables("raw")
def token_peek(raw: str, *, purpose: str) -> OneTimeToken | None:
    """The usable token for ``raw`` without consuming it (a GET showing a confirmation)."""
    token = _usable(raw, purpose).select_related("user").first()
    if token is not None and purpose in TO_LOGIN_ADDRESS and (
            normalize_email(token.email) != normalize_email(user_email(token.user))):
        return None
    return token


@sensitive_variables("raw")
def token_consume(raw: str, *, purpose: str) -> OneTimeToken | None:
    """Use the token: returns it if this call, and no other, consumed it; else None."""
    token = token_peek(raw, purpose=purpose)
    if token is None:
        return None
    # Filter on the token's own columns only. A join (user__is_active) makes the ORM write
    # "WHERE id IN (subquery)", which PostgreSQL does not re-check against the row a
    # concurrent transaction has just consumed, so two requests could both win.
    won = OneTimeToken.objects.filter(
        pk=token.pk, used_at__isnull=True, voided_at__isnull=True, expires_at__gt=_now()
    ).update(used_at=_now())
    return token if won == 1 else None


def tokens_void(*, user, purpose: str | None = None) -> None:
    """Void ``user``'s unused tokens of ``purpose``, or of every purpose."""
    tokens = OneTimeToken.objects.filter(user=user, used_at__isnull=True, voided_at__isnull=True)
    if purpose is not None:
        tokens = tokens.filter(purpose=purpose)
    tokens.update(voided_at=_now())
