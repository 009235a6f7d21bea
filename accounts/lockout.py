"""Progressive lockout after repeated failed sign-ins.

Failures are counted per (identifier, IP) and per identifier across all IPs. The pair locks
after ``LOCKOUT_THRESHOLD`` failures; the identifier as a whole only after
``LOCKOUT_ACCOUNT_THRESHOLD``. So an attacker guessing from one IP locks out that IP, not the
victim, who still signs in from anywhere else. Each lockout doubles the previous one up to
``LOCKOUT_MAX``, so no lock outlives that bound. Rows are keyed by the typed identifier, which
makes unknown addresses lock exactly like real ones.

Apart from those locks, which time undoes, the account-wide row counts every failure in a
row from any IP. At ``LOCKOUT_CONSECUTIVE_LIMIT`` (100, NIST SP 800-63B-4 §3.2.2) the
password is refused until the account signs in another way (an emailed link, a passkey),
resets its password or staff unlock it: however many IPs guess, however slowly, no more
than that many guesses in a row are ever checked.

A browser an account has signed in with is known to the lockout for that account (a signed
device cookie, as OWASP's "device cookies" describe): its password checks count on a row
of their own instead of its IP's, and while that row has never locked, neither the
account-wide lock nor the consecutive limit applies to it. Others' guesses, from however
many IPs, so never keep the owner from signing in where they usually do; a stolen device
cookie still gets only ``LOCKOUT_THRESHOLD`` guesses before it is treated like any other
browser.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import signals
from accounts.app_settings import app_settings
from accounts.flows.limits import rate_limit_reset
from accounts.models import LoginThrottle, normalize_email
from accounts.users import get_by_email, user_email
from authsuite import context, crypto, db
from authsuite.cookies import secure_for

DEVICE_SALT = "authsuite.accounts.lockout.device"
HOLDER_PURPOSE = "lockout-device"  # purpose of the digest naming the cookie's address
#: Throttle rows of a known browser: ``ip`` is this prefix and the browser's id.
DEVICE_PREFIX = "device:"
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_DEVICE_COOKIE = "_authsuite_device_cookie"  # request attribute: the cookie to set

# What other apps hold against a user's attempts (a second factor's back-off, its rate
# limits), forgotten when staff unlock the account: (user) -> whether any of it was there.
_forgetters: list[Callable[[object], bool]] = []


def user_identifier(user) -> str:
    """The identifier a signed-in ``user``'s password checks count under: their login
    address, or their primary key when they have none (django.contrib.auth's User allows
    it): no address must not mean no lockout."""
    return normalize_email(user_email(user)) or f"user:{user.pk}"


def _pair_ip(ip: str | None) -> str:
    # An IPv6 client counts by its /64 (context.limit_key). A request whose IP is unknown
    # still gets a pair of its own: "" is the account-wide row, and sharing it would let one
    # such client lock the account for every IP.
    return context.limit_key(ip)


@dataclass(frozen=True)
class KnownBrowser:
    """A browser the account signed in with (its device cookie): ``id`` names its throttle
    row, ``user_id`` the account the cookie was issued to."""

    id: str
    user_id: str


def _pair(ip: str | None, device: KnownBrowser | None) -> str:
    """The row an attempt counts on besides the account-wide one: its browser's, if known
    to the account, else its IP's."""
    return f"{DEVICE_PREFIX}{device.id}" if device else _pair_ip(ip)


def _holder(identifier: str) -> str:
    # The cookie names the address by a keyed digest: it must not show it.
    return crypto.token_digest(normalize_email(identifier), purpose=HOLDER_PURPOSE)[:32]


def device_of(request, identifier: str) -> KnownBrowser | None:
    """This browser, if it signed in to the account of ``identifier`` (its device cookie,
    signed, unexpired and issued for that address); None otherwise. That the account is
    still the one the cookie was issued to is checked when it matters (:func:`standing`)."""
    days = app_settings.LOCKOUT_DEVICE_COOKIE_DAYS
    raw = request.COOKIES.get(app_settings.LOCKOUT_DEVICE_COOKIE_NAME) if request else None
    if not raw or days <= 0:
        return None
    value = crypto.signed_value(raw, salt=DEVICE_SALT, max_age=days * 86400)
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in "adu"):
        return None
    if not crypto.digest_matches(value["a"], normalize_email(identifier),
                                 purpose=HOLDER_PURPOSE, length=32):
        return None
    return KnownBrowser(value["d"], value["u"]) if _DEVICE_ID.fullmatch(value["d"]) else None


def device_remember(request, user) -> None:
    """A sign-in of ``user`` completed in this browser: it is (or stays) known to the
    lockout for that account. ``SessionTrackingMiddleware`` sets the cookie."""
    if request is None or app_settings.LOCKOUT_DEVICE_COOKIE_DAYS <= 0:
        return
    identifier = user_identifier(user)
    known = device_of(request, identifier)
    device = known.id if known and known.user_id == str(user.pk) else secrets.token_urlsafe(16)
    setattr(request, _DEVICE_COOKIE, signing.dumps(
        {"a": _holder(identifier), "u": str(user.pk), "d": device}, salt=DEVICE_SALT))


def device_cookie_set(request, response) -> None:
    """Set the device cookie ``device_remember`` chose for this request, if any."""
    value = getattr(request, _DEVICE_COOKIE, None)
    if value:
        response.set_cookie(
            app_settings.LOCKOUT_DEVICE_COOKIE_NAME, value,
            max_age=app_settings.LOCKOUT_DEVICE_COOKIE_DAYS * 86400, httponly=True,
            secure=secure_for(request, app_settings.LOCKOUT_DEVICE_COOKIE_NAME),
            samesite="Lax", path="/",
        )


@dataclass(frozen=True)
class Standing:
    """What the lockout rows say about one identifier from one IP, read in one query."""

    retry_after: int
    counts_account_wide: bool
    has_history: bool
    #: The consecutive-failure limit is reached: only another way in, a reset or staff
    #: unlock lets the password be checked again.
    password_blocked: bool = False


def standing(identifier: str, ip: str | None, device: KnownBrowser | None = None) -> Standing:
    """The lockout rows of ``identifier`` as they apply to an attempt from ``ip``, or from
    the known browser ``device`` (see :func:`device_of`)."""
    now = timezone.now()
    since = now - timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER)
    pair_ip = _pair(ip, device)
    # Compiled once: this runs before every password check (authsuite.db).
    rows = db.select(
        LoginThrottle, ["ip", "locked_until", "lockouts", "last_failure_at",
                        "consecutive_failures"],
        using=router.db_for_read(LoginThrottle),
        where={"identifier": normalize_email(identifier),
               "ip__in": [pair_ip, LoginThrottle.ACCOUNT_WIDE]},
    )
    # A known browser whose own row never locked is spared the account's locks: the
    # owner's usual browser, whatever others guess.
    spared = bool(device) and not any(
        row_ip == pair_ip and lockouts > 0 for row_ip, _u, lockouts, _f, _c in rows)
    if spared and any(row_ip == LoginThrottle.ACCOUNT_WIDE and (
            (u is not None and u > now) or c >= app_settings.LOCKOUT_CONSECUTIVE_LIMIT)
            for row_ip, u, _l, _f, c in rows):
        # Sparing matters now: only for the account the cookie was issued to (an address
        # can pass to another account, closed and signed up again, say).
        owner = get_by_email(identifier)
        if owner is None or str(owner.pk) != device.user_id:
            return standing(identifier, ip)
    until = max((u for row_ip, u, _l, _f, _c in rows
                 if u is not None and u > now and not (spared and row_ip != pair_ip)),
                default=None)
    # Only until this IP's own pair first locks (within LOCKOUT_RESET_AFTER) do its attempts
    # count against the identifier as a whole. One IP, however patient, so adds at most
    # LOCKOUT_THRESHOLD failures to the account-wide lock and the per-account rate limit:
    # only several IPs together can stop the account everywhere.
    pair_locked_before = any(
        row_ip == pair_ip and lockouts > 0 and last >= since
        for row_ip, _u, lockouts, last, _c in rows
    )
    return Standing(
        retry_after=math.ceil((until - now).total_seconds()) if until else 0,
        counts_account_wide=not pair_locked_before,
        has_history=bool(rows),
        password_blocked=not spared and any(
            row_ip == LoginThrottle.ACCOUNT_WIDE
            and consecutive >= app_settings.LOCKOUT_CONSECUTIVE_LIMIT
            for row_ip, _u, _l, _f, consecutive in rows
        ),
    )


def counts_account_wide(identifier: str, ip: str | None,
                        device: KnownBrowser | None = None) -> bool:
    """Whether attempts from ``ip`` (or the known browser ``device``) still count against
    ``identifier`` as a whole."""
    return standing(identifier, ip, device).counts_account_wide


@dataclass(frozen=True)
class Bump:
    locked_until: datetime | None = None  # this failure locked the row until then
    blocked: bool = False  # this failure reached the consecutive-failure limit


def _bump(identifier: str, ip: str, threshold: int, now: datetime, *,
          counts: bool = True) -> Bump:
    """Count one failure on a row. On the account-wide row, a failure that does not count
    towards its lock (``counts=False``) still counts towards the consecutive limit."""
    with transaction.atomic():
        # get_or_create survives a concurrent insert; the row lock then serialises updates.
        # An idle row the periodic prune deletes between the two is simply made again.
        row = None
        while row is None:
            LoginThrottle.objects.get_or_create(identifier=identifier, ip=ip)
            row = (LoginThrottle.objects.select_for_update()
                   .filter(identifier=identifier, ip=ip).first())
        blocked = False
        if ip == LoginThrottle.ACCOUNT_WIDE:
            row.consecutive_failures += 1
            blocked = row.consecutive_failures == app_settings.LOCKOUT_CONSECUTIVE_LIMIT
        if not counts:
            row.save(update_fields=["consecutive_failures"])
            return Bump(blocked=blocked)
        # A known browser's row forgets nothing with time, only with a success: once it
        # has locked it is spared no more, so a stolen device cookie gets LOCKOUT_THRESHOLD
        # guesses in all, not that many every LOCKOUT_RESET_AFTER.
        if not ip.startswith(DEVICE_PREFIX) and (
                now - row.last_failure_at > timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER)):
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
    return Bump(locked_until=locked_until, blocked=blocked)


def failure_record(request, identifier: str, ip: str | None,
                   device: KnownBrowser | None = None) -> None:
    identifier = normalize_email(identifier)
    if not identifier:
        return
    now = timezone.now()
    counted = counts_account_wide(identifier, ip, device)
    pair = _bump(identifier, _pair(ip, device), app_settings.LOCKOUT_THRESHOLD, now)
    account = _bump(identifier, LoginThrottle.ACCOUNT_WIDE,
                    app_settings.LOCKOUT_ACCOUNT_THRESHOLD, now, counts=counted)
    locks = [(scope, until) for scope, until in ((ip, pair.locked_until),
                                                 (None, account.locked_until)) if until]
    if account.blocked:
        locks.append((None, None))  # no end: until another way in, a reset or staff unlock
    for scope_ip, until in locks:
        user = get_by_email(identifier)
        signals.account_locked.send(
            sender=user.__class__, request=request, user=user, identifier=identifier,
            ip=scope_ip, until=until,
        )


def success_record(identifier: str, ip: str | None, *, has_history: bool = True,
                   device: KnownBrowser | None = None) -> None:
    """A correct sign-in clears this IP's (or known browser's) history and the
    account-wide failure count.

    Most sign-ins follow no failure: callers that already read the rows (``standing``)
    pass ``has_history=False`` and spare every such sign-in three writes.
    """
    identifier = normalize_email(identifier)
    if not has_history:
        return
    LoginThrottle.objects.filter(identifier=identifier, ip=_pair(ip, device)).delete()
    LoginThrottle.objects.filter(
        identifier=identifier, ip=LoginThrottle.ACCOUNT_WIDE, locked_until__isnull=True
    ).delete()
    LoginThrottle.objects.filter(identifier=identifier, ip=LoginThrottle.ACCOUNT_WIDE).update(
        failures=0, consecutive_failures=0
    )


def recovered(user) -> None:
    """``user`` proved who they are another way (an emailed link, a passkey, a reset): the
    failures in a row end, and the password is checked again (temporary locks stay)."""
    LoginThrottle.objects.filter(
        identifier=user_identifier(user), ip=LoginThrottle.ACCOUNT_WIDE,
        consecutive_failures__gt=0,
    ).update(consecutive_failures=0)


def account_unlock(user, *, request=None, by=None) -> bool:
    """Staff: forget every failure and lock for ``user``'s addresses; whether there was any.

    What other apps hold against the account's attempts is forgotten too (each function
    given to :func:`unlock_register`: ``mfa`` forgets its codes' back-off and rate limit),
    so the owner staff unlock is not still refused at the second step.

    An account with nothing to forget (no failed sign-in remembered, no lock, no per-account
    rate limit refusing it, nothing any of those functions found) is left as it is: no
    ``account_unlocked``, so its owner's security page does not show staff unlocking an
    account that was never locked.
    """
    addresses = identifiers_held(user)
    rows = LoginThrottle.objects.filter(identifier__in=addresses)
    # The browsers and IPs that failed: each may have a rate-limit count of its own for the
    # account (a known browser's sign-ins, an (account, IP) pair's), which only these rows
    # name.
    pairs = sorted(rows.exclude(ip=LoginThrottle.ACCOUNT_WIDE).values_list("identifier", "ip"))
    deleted, _ = rows.delete()
    # And the per-account rate limits, else the owner may still be refused for a while.
    # Every counter is reset (each call runs): one under its limit counts for nothing.
    limited = [rate_limit_reset("login", account=address) for address in sorted(addresses)]
    limited.append(rate_limit_reset("reauthenticate", account=str(user.pk)))
    for identifier, ip in pairs:
        if ip.startswith(DEVICE_PREFIX):  # counted as password_check counts it
            limited.append(rate_limit_reset("login", account=f"{identifier} {ip}"))
        else:
            limited.append(rate_limit_reset("login", account=identifier, ip=ip))
            limited.append(rate_limit_reset("reauthenticate", account=str(user.pk), ip=ip))
    limited.extend(forget(user) for forget in _forgetters)  # each runs
    if not deleted and not any(limited):
        return False
    signals.account_unlocked.send(sender=user.__class__, request=request, user=user, by=by)
    return True


def identifiers_held(user) -> set[str]:
    """The identifiers whose failures are ``user``'s: their login identifier and the
    addresses they verified. Only those: an unverified row may be someone else's address."""
    addresses = {user_identifier(user)}
    addresses.update(user.email_addresses.filter(verified=True).values_list("email", flat=True))
    return addresses


def throttles_export(identifiers) -> list[dict]:
    """The failed sign-ins remembered for ``identifiers`` (the account export): per
    address, from where (an IP, or a network for IPv6; a browser the account signed in
    with, not named; any IP, the account-wide count), how many failures and locks, and
    until when it is locked."""
    rows = LoginThrottle.objects.filter(identifier__in=sorted(identifiers)).order_by(
        "identifier", "ip")
    return [{
        "address": row.identifier,
        "scope": ("account" if row.ip == LoginThrottle.ACCOUNT_WIDE
                  else "browser" if row.ip.startswith(DEVICE_PREFIX) else "ip"),
        # A known browser's row is named by the id its signed cookie carries: not shown.
        "ip": row.ip if row.ip and not row.ip.startswith(DEVICE_PREFIX) else None,
        "failures": row.failures, "lockouts": row.lockouts,
        "consecutive_failures": row.consecutive_failures,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "last_failure_at": row.last_failure_at.isoformat(),
    } for row in rows]


def throttles_forget(identifiers) -> int:
    """An account with ``identifiers`` is deleted: its failed sign-ins go, but for a lock
    still running, which stays until it ends (at most ``LOCKOUT_MAX``). The lock is the
    address's, not the account's: whoever was guessing is answered as before, however the
    account ended, and an account signed up again with the address is covered by it. Its
    consecutive count goes (it held the deleted account's password back; a new account's
    is another). Returns how many rows went."""
    rows = LoginThrottle.objects.filter(identifier__in=sorted(identifiers))
    running = Q(locked_until__gt=timezone.now())
    rows.filter(running).update(consecutive_failures=0)
    return rows.exclude(running).delete()[0]


def throttles_prune(now: datetime | None = None) -> int:
    """Forget the failed sign-ins that count for nothing any more (periodic, with
    ``accounts.expire_sessions``); returns how many rows went. None of them has a lock
    running. They are:

    - an IP's row, and an address's account-wide row with no failures in a row, once
      ``LOCKOUT_RESET_AFTER`` has passed since their last failure: the next failure would
      start them afresh all the same (:func:`_bump`, :func:`standing`);
    - a known browser's row once no cookie can name it any more, ``LOCKOUT_DEVICE_COOKIE_DAYS``
      after its last failure (a sign-in in that browser, which renews its cookie, deletes
      the row).

    An account-wide row counting failures in a row stays, however old: they count until a
    success, however slowly, so that no more than ``LOCKOUT_CONSECUTIVE_LIMIT`` guesses in
    a row are ever checked. So it does for an address no account has: the limit answers
    alike for both, and a row forgotten only for the unknown ones would tell which
    addresses have accounts (guess up to the limit, wait, guess again).
    """
    now = now or timezone.now()
    idle = now - timedelta(seconds=app_settings.LOCKOUT_RESET_AFTER)
    unknown_to_cookies = min(idle, now - timedelta(days=app_settings.LOCKOUT_DEVICE_COOKIE_DAYS))
    rows = LoginThrottle.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
    pairs = rows.exclude(ip=LoginThrottle.ACCOUNT_WIDE).filter(
        (~Q(ip__startswith=DEVICE_PREFIX) & Q(last_failure_at__lt=idle))
        | Q(ip__startswith=DEVICE_PREFIX, last_failure_at__lt=unknown_to_cookies))
    deleted = pairs.delete()[0]
    account_wide = rows.filter(ip=LoginThrottle.ACCOUNT_WIDE, last_failure_at__lt=idle)
    deleted += account_wide.filter(consecutive_failures=0).delete()[0]
    return deleted


def unlock_register(forget: Callable[[object], bool]) -> None:
    """Another app keeps failures of its own against a user's attempts: ``forget(user)``
    forgets them when staff unlock the account, and returns whether there were any (one
    that was, and nothing else, still makes the unlock one)."""
    if forget not in _forgetters:
        _forgetters.append(forget)
