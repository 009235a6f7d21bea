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
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import signals
from accounts.app_settings import app_settings
from accounts.models import LoginThrottle, normalize_email
from accounts.users import get_by_email


def _pair_ip(ip: str | None) -> str:
    # A request whose IP is unknown still gets a pair of its own: "" is the account-wide row,
    # and sharing it would let one such client lock the account for every IP.
    return ip or "unknown"


def counts_account_wide(identifier: str, ip: str | None) -> bool:
    """Whether attempts from ``ip`` still count against ``identifier`` as a whole.

    Only until this IP's own pair first locks (within ``LOCKOUT_RESET_AFTER``). One IP, however
    patient, so adds at most ``LOCKOUT_THRESHOLD`` failures to the account-wide lock and the
    per-account rate limit: only several IPs together can stop the account everywhere.
    """
    since = timezone.now() - timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER)
    return not LoginThrottle.objects.filter(
        identifier=normalize_email(identifier), ip=_pair_ip(ip), lockouts__gt=0,
        last_failure_at__gte=since,
    ).exists()


def retry_after(identifier: str, ip: str | None) -> int:
    """Seconds until ``identifier`` may try again from ``ip``; 0 when not locked."""
    now = timezone.now()
    until = (
        LoginThrottle.objects.filter(
            Q(ip=_pair_ip(ip)) | Q(ip=LoginThrottle.ACCOUNT_WIDE),
            identifier=normalize_email(identifier), locked_until__gt=now,
        )
        .order_by("-locked_until")
        .values_list("locked_until", flat=True)
        .first()
    )
    return math.ceil((until - now).total_seconds()) if until else 0


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


def success_record(identifier: str, ip: str | None) -> None:
    """A correct sign-in clears this IP's history and the account-wide failure count."""
    identifier = normalize_email(identifier)
    # Most sign-ins follow no failure: one read then spares them three writes (and their
    # commits) on every successful sign-in.
    if not LoginThrottle.objects.filter(identifier=identifier).exists():
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
    addresses.update(user.email_addresses.values_list("email", flat=True))
    deleted, _ = LoginThrottle.objects.filter(identifier__in=addresses).delete()
    signals.account_unlocked.send(sender=user.__class__, request=request, user=user, by=by)
    return deleted


def locked_identifiers(now=None):
    now = now or timezone.now()
    return LoginThrottle.objects.filter(locked_until__gt=now).values("identifier")
