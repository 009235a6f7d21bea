"""Rate limits on top of django-ratelimit's counters.

Counters live in a cache shared by every web process (Redis in production: ``add`` + ``incr``
are atomic there, so N processes cannot each grant the full quota). Every refusal sends the
``rate_limited`` signal so it can be audited.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import (
    EXPIRATION_FUDGE,
    _get_window,
    _make_cache_key,
    _split_rate,
    get_usage,
)

from authsuite import signals

logger = logging.getLogger("authsuite.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    limited: bool
    retry_after: int = 0


def _opaque(value: str) -> str:
    # Keys may hold an email address; the cache never needs to see it in clear.
    return hashlib.sha256(value.encode()).hexdigest()


def check(
    request: HttpRequest, *, group: str, rate: str | None, scope: str, value: str,
    increment: bool = True,
) -> Decision:
    """Count one attempt against ``rate`` for ``value`` and say whether it is over the limit.

    ``scope`` names what ``value`` is (``"ip"``, ``"account"``) for the signal and the key.
    A ``rate`` of None disables the limit.
    """
    if not rate:
        return Decision(False)
    usage = get_usage(
        request, group=f"{group}:{scope}", key=lambda _group, _request: _opaque(value),
        rate=rate, method=ALL, increment=increment,
    )
    uncounted = _uncounted(usage)
    if uncounted:
        # django-ratelimit could not read or count in the cache (down, full, refusing): it
        # then lets every attempt through (RATELIMIT_FAIL_OPEN) or refuses every one, and
        # says nothing. Either way the limits no longer work as configured.
        logger.warning("ratelimit: the cache %r could not count an attempt of %s:%s; "
                       "attempts are %s until it can", cache_alias(), group, scope,
                       "allowed" if usage is None else "refused")
    if increment and usage is not None and usage["count"] > 1:
        _keep_window(group=f"{group}:{scope}", rate=rate, key=_opaque(value),
                     time_left=usage["time_left"])
    if usage is None or not usage["should_limit"]:
        return Decision(False)
    retry_after = max(int(usage["time_left"]), 1)
    if not uncounted:
        # A refusal for want of a cache (failing closed) is no client over its limit: the
        # warning above is for the operator, and the trail gets no "rate limited" event that
        # would blame this address or IP for it.
        signals.rate_limited.send(
            sender=HttpRequest, request=request, group=group, scope=scope,
            retry_after=retry_after)
    return Decision(True, retry_after)


def cache_alias() -> str:
    """The cache django-ratelimit counts in (``RATELIMIT_USE_CACHE``, ``default`` unless set)."""
    return getattr(settings, "RATELIMIT_USE_CACHE", "default")


def _uncounted(usage) -> bool:
    """Whether ``get_usage`` (given a rate) answered for a cache that failed: None when
    it fails open (and limits are on), or its fixed refusal with no time left when closed."""
    if usage is None:
        return (getattr(settings, "RATELIMIT_ENABLE", True)
                and getattr(settings, "RATELIMIT_FAIL_OPEN", False))
    return usage["limit"] == 0 and usage["time_left"] == -1 and usage["count"] == 0


def _keep_window(*, group: str, rate: str, key: str, time_left: int) -> None:
    """Keep a counter ``incr`` just counted on until its window ends, on a cache whose
    ``incr`` is Django's generic one (the file-based and database caches): a read and a
    ``set`` that gives the counter the cache's default ``TIMEOUT`` (300 s unless set).
    Left so, the count of an hour's window ("20/h") would be forgotten five minutes after
    its last attempt, and the limit be twenty attempts every five minutes. Redis, memcached
    and the local-memory cache keep the counter's expiry themselves."""
    cache = caches[cache_alias()]
    if type(cache).incr is not BaseCache.incr:
        return
    _limit, period = _split_rate(rate)
    cache_key = _make_cache_key(group, _get_window(key, period), rate, key, ALL)
    cache.touch(cache_key, max(time_left, 0) + EXPIRATION_FUDGE)


def reset(*, group: str, rate: str | None, scope: str, value: str) -> bool:
    """Forget the current window's count of ``value`` (staff unlocking an account); return
    whether it was in force (the next attempt would have been refused).

    The key is django-ratelimit's own for the same arguments ``check`` passes it. The count
    is taken (read and zeroed, :func:`_take`), so of two resets at once only one says it
    was in force.
    """
    if not rate:
        return False
    limit, period = _split_rate(rate)
    key = _opaque(value)
    cache_key = _make_cache_key(f"{group}:{scope}", _get_window(key, period), rate, key, ALL)
    # django-ratelimit refuses an attempt once the count, that attempt included, passes the
    # limit: the count stored reaching it is what refuses the next.
    return _take(cache_alias(), cache_key) >= limit


def _take(alias: str, cache_key: str) -> int:
    """Zero the counter ``cache_key`` of cache ``alias``; the count it held (0: none).

    Zeroed, not removed: django-ratelimit counts an attempt with ``add``, then, the counter
    being there, ``incr``, and refuses one it could not count. A counter removed between
    the two would refuse an attempt of the owner staff just unlocked. Zeroed where it is, it
    also keeps its expiry, the end of its window.

    On Redis (django-redis) the read and the zeroing are one transaction (MULTI/EXEC, ``SET
    0 XX KEEPTTL``): nothing runs between them, so the count returned is the one zeroed, and
    of two calls at once only one gets it. Other caches have no such operation: the count
    read is taken off with ``decr``, which loses no attempt counted in between (and keeps
    the expiry, on the local-memory cache as on memcached). Of two calls that read the same
    count, the second to take it off leaves less than nothing: it puts it back and returns 0
    (memcached's ``decr`` stops at zero instead, so there both may return it).
    """
    redis = _redis_connection(alias)
    cache = caches[alias]
    if redis is None:
        count = cache.get(cache_key) or 0
        if not count:
            return 0
        try:
            left = cache.decr(cache_key, count)
        except ValueError:  # expired since it was read: nothing left to take
            return 0
        if left < 0:
            cache.incr(cache_key, count)
            return 0
        return count
    key = cache.make_key(cache_key)
    with redis.pipeline(transaction=True) as pipe:
        count, _ = pipe.get(key).set(key, 0, xx=True, keepttl=True).execute()
    return int(count or 0)  # django-redis stores integers as their digits, for INCR


def _redis_connection(alias: str):
    """django-redis's client behind cache ``alias``, or None for any other cache."""
    try:
        from django_redis import get_redis_connection  # the optional "redis" extra
    except ImportError:
        return None
    try:
        return get_redis_connection(alias)
    except NotImplementedError:  # not a django-redis cache
        return None


def check_all(request: HttpRequest, *, group: str, limits: dict[str, tuple[str | None, str]],
              increment: bool = True) -> Decision:
    """Check several scopes at once: ``{"ip": (rate, value), "account": (rate, value)}``.

    Every counter is incremented even when an earlier one is already over, so a client
    cannot spread attempts by alternating targets.
    """
    worst = Decision(False)
    for scope, (rate, value) in limits.items():
        decision = check(request, group=group, rate=rate, scope=scope, value=value,
                         increment=increment)
        if decision.limited and decision.retry_after > worst.retry_after:
            worst = decision
    return worst
