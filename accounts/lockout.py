"""Progressive lockout after repeated failed sign-ins.

Failures are counted per (identifier, IP) and per identifier across all IPs. The pair locks
after ``LOCKOUT_THRESHOLD`` failures; the identifier as a whole only after
``LOCKOUT_ACCOUNT_THRESHOLD``. So an attacker guessing from one IP locks out that IP, not the
victim, who still signs in from anywhere else. Each lockout doubles the previous one up to
``LOCKOUT_MAX``, so no lock outlives that bound. Rows are keyed by the typed identifier, which
makes unknown addresses lock exactly like real ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone

from accounts import signals
from accounts.app_settings import app_settings
from accounts.models import LoginThrottle, normalize_email
from accounts.users import get_by_email
from authsuite import context, db


def _pair_ip(ip: str | None) -> str:
    # An IPv6 client counts by its /64 (context.limit_key). A request whose IP is unknown
    # still gets a pair of its own: "" is the account-wide row, and sharing it would let one
    # such client lock the account for every IP.
    return context.limit_key(ip)


@dataclass(frozen=True)
class Standing:
    """What the lockout rows say about one identifier from one IP, read in one query."""

    retry_after: int
    counts_account_wide: bool
    has_history: bool


def standing(identifier: str, ip: str | None) -> Standing:
    now = timezone.now()
    since = now - timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER)
    pair_ip = _pair_ip(ip)
    # Compiled once: this runs before every password check (authsuite.db).
    rows = db.select(
        LoginThrottle, ["ip", "locked_until", "lockouts", "last_failure_at"],
        using=router.db_for_read(LoginThrottle),
        where={"identifier": normalize_email(identifier),
               "ip__in": [pair_ip, LoginThrottle.ACCOUNT_WIDE]},
    )
    until = max((u for _ip, u, _l, _f in rows if u is not None and u > now), default=None)
    # Only until this IP's own pair first locks (within LOCKOUT_RESET_AFTER) do its attempts
    # count against the identifier as a whole. One IP, however patient, so adds at most
    # LOCKOUT_THRESHOLD failures to the account-wide lock and the per-account rate limit:
    # only several IPs together can stop the account everywhere.
    pair_locked_before = any(
        row_ip == pair_ip and lockouts > 0 and last >= since
        for row_ip, _u, lockouts, last in rows
    )
    return Standing(
        retry_after=math.ceil((until - now).total_seconds()) if until else 0,
        counts_account_wide=not pair_locked_before,
        has_history=bool(rows),
    )


def counts_account_wide(identifier: str, ip: str | None) -> bool:
    """Whether attempts from ``ip`` still count against ``identifier`` as a whole."""
    return standing(identifier, ip).counts_account_wide


def _bump(identifier: str, ip: str, threshold: int, now: datetime) -> datetime | None:
    """Count one failure on a row; return the new lock end if this failure locked it."""
    with transaction.atomic():
        # get_or_create survives a concurrent insert; the row lock then serialises updates.
        LoginThrottle.objects.get_or_create(identifier=identifier, ip=ip)
        row = LoginThrottle.objects.select_for_update().get(identifier=identifier, ip=ip)
        if now - row.last_failure_at > timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER):
            row.failures = 0
            row.lockouts = 0
        row.failures += 1
        row.last_failure_at = now
        locked_until = None
        if row.failures >= threshold:
            row.lockouts += 1
            row.failures = 0
            seconds = min(
                app_settings.LOCKOUT_BASE * 2 ** (row.lockouts - 1), app_settings.LOCKOUT_MAX
            )
            locked_until = row.locked_until = now + timedelta(seconds=seconds)
        row.save()
    return locked_until


def failure_record(request, identifier: str, ip: str | None) -> None:
    identifier = normalize_email(identifier)
    if not identifier:
        return
    now = timezone.now()
    counted = counts_account_wide(identifier, ip)
    pair = _bump(identifier, _pair_ip(ip), app_settings.LOCKOUT_THRESHOLD, now)
    account = _bump(
        identifier, LoginThrottle.ACCOUNT_WIDE, app_settings.LOCKOUT_ACCOUNT_THRESHOLD, now
    ) if counted else None
    for until, scope_ip in ((pair, ip), (account, None)):
        if until is not None:
            user = get_by_email(identifier)
            signals.account_locked.send(
                sender=user.__class__, request=request, user=user, identifier=identifier,
                ip=scope_ip, until=until,
            )


def success_record(identifier: str, ip: str | None, *, has_history: bool = True) -> None:
    """A correct sign-in clears this IP's history and the account-wide failure count.

    Most sign-ins follow no failure: callers that already read the rows (``standing``)
    pass ``has_history=False`` and spare every such sign-in three writes.
    """
    identifier = normalize_email(identifier)
    if not has_history:
        return
    LoginThrottle.objects.filter(identifier=identifier, ip=_pair_ip(ip)).delete()
    LoginThrottle.objects.filter(
        identifier=identifier, ip=LoginThrottle.ACCOUNT_WIDE, locked_until__isnull=True
    ).delete()
    LoginThrottle.objects.filter(identifier=identifier, ip=LoginThrottle.ACCOUNT_WIDE).update(
        failures=0
    )


def account_unlock(user, *, request=None, by=None) -> int:
    """Staff: forget every failure and lock for ``user``'s addresses."""
    from accounts.users import user_email

    addresses = {normalize_email(user_email(user))}
    # Only addresses the account holds: an unverified row may be someone else's address.
    addresses.update(user.email_addresses.filter(verified=True).values_list("email", flat=True))
    deleted, _ = LoginThrottle.objects.filter(identifier__in=addresses).delete()
    signals.account_unlocked.send(sender=user.__class__, request=request, user=user, by=by)
    return deleted
