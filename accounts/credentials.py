"""What a signed-in session, a sign-in in progress and a trusted browser are bound to: the
account's password, as its session auth hash stands for it (Django's
``get_session_auth_hash``, an HMAC of the stored hash); and the password check that brings
a stored hash up to date without ending any of them.

A sign-in that checks a password stored under another hasher or other parameters than the
configured ones stores it again under the configured ones (Django's ``must_update``): the
same password, a new hash, so a new session auth hash. Django would then sign the account
out of every other session at its next request, and every value bound to the old hash would
stop matching, the day an operator raises the Argon2 cost or imports accounts hashed with
PBKDF2. Here the check records the step (:class:`~accounts.models.PasswordRehash`), and
what was bound to the old hash still matches while the password stored is the one that
replaced it. A changed password (any ``set_password``: a change, a reset, the admin,
``changepassword``) matches nothing bound before. A hash of a password as typed, stored
before passwords were normalised, is taken over under the normalising hasher's name when
the password was already in normal form (no second hash), and hashed again otherwise.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

from django.contrib.auth.hashers import check_password, get_hasher
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.debug import sensitive_variables

from accounts.app_settings import app_settings
from accounts.models import PasswordRehash

logger = logging.getLogger("authsuite.accounts")

#: The longest password the suite sets (the forms' and the API's limit on a new one). A
#: longer one typed to be checked is wrong for every account, and is refused unhashed.
PASSWORD_MAX = 1024

_lifetimes: list[Callable[[], int]] = []


def credential(user, encoded: str | None = None) -> str:
    """``user``'s session auth hash, or that of the stored hash ``encoded`` if given;
    empty for a user model without session auth hashes."""
    if not hasattr(user, "get_session_auth_hash"):
        return ""
    if encoded is not None and encoded != user.password:
        user = copy.copy(user)
        user.password = encoded
    return user.get_session_auth_hash()


def bound(user) -> Iterator[str]:
    """Every value that stands for ``user``'s current password: its session auth hash, the
    same under ``SECRET_KEY_FALLBACKS``, then those of the older hashes of the same password
    (one query, made only if the earlier ones did not match). Nothing for a user model
    without session auth hashes."""
    if not hasattr(user, "get_session_auth_hash"):
        return
    current = [user.get_session_auth_hash()]
    yield current[0]
    fallbacks = getattr(user.__class__, "get_session_auth_fallback_hash", None)
    for value in fallbacks(user) if fallbacks is not None else ():
        current.append(value)
        yield value
    yield from (PasswordRehash.objects.filter(user_id=user.pk, current__in=current)
                .order_by("-id").values_list("previous", flat=True))


def matches(user, value: str) -> bool:
    """Whether ``value``, bound to ``user``'s password earlier (:func:`credential`), still
    stands for it."""
    if not hasattr(user, "get_session_auth_hash"):
        return value == ""
    return bool(value) and any(constant_time_compare(value, each) for each in bound(user))


def session_fallbacks(user, *, preloaded: list[str] | None = None) -> Iterator[str]:
    """What Django's ``get_user`` tries when a session's hash is not the account's own (see
    :func:`attach`): :func:`bound` but the first."""
    if preloaded is not None:
        yield from preloaded
        return
    values = bound(user)
    next(values, None)
    yield from values


def attach(user, *, preload: bool = False):
    """Let Django's session check accept ``user``'s older hashes of the same password: it
    asks ``get_session_auth_fallback_hash()`` only when a session's hash is not the current
    one, and then moves the session to the current one under a new key. ``preload``: look
    them up now, for Django's async check, which cannot query."""
    if hasattr(user, "get_session_auth_hash"):
        preloaded = list(session_fallbacks(user)) if preload else None
        user.get_session_auth_fallback_hash = partial(session_fallbacks, user, preloaded=preloaded)
    return user


# Every local is the password or its stored hash; so are those of the hashers beneath.
@sensitive_variables()
def password_matches(user, raw_password: str) -> bool:
    """``user.check_password``, with a stored hash that needs bringing up to date stored
    again only if it is still the one checked, and the step recorded with it.

    A password longer than ``PASSWORD_MAX`` does not match, and is not hashed: no such
    password was set, and hashing whatever size a request can carry is work an attacker
    would have the server do for free.
    """
    if too_long(raw_password):
        return False
    encoded = user.password

    def store_again(raw):
        adopted = _adopted(raw, encoded)
        if adopted is None:
            user.set_password(raw)
        else:
            user.password = adopted
        user._password = None  # the same password: not a change for the validators
        try:
            with transaction.atomic():
                stored = (user.__class__._default_manager.filter(pk=user.pk, password=encoded)
                          .update(password=user.password))
                if stored:
                    _record(user, encoded)
        except DatabaseError:
            logger.warning("accounts: could not store a password hash again; the next "
                           "sign-in will", exc_info=True)
            stored = False
        if not stored:
            # Stored again by another request, changed, or not stored now: keep the hash
            # checked (a changed password still refuses this sign-in at its next request).
            user.password = encoded

    return check_password(raw_password, encoded, store_again)


@sensitive_variables()
def too_long(raw_password: str) -> bool:
    """Whether ``raw_password``, as typed, is longer than any password the suite sets."""
    return len(raw_password) > PASSWORD_MAX


@sensitive_variables()
def _adopted(raw_password: str, encoded: str) -> str | None:
    """The checked hash ``encoded`` taken over as it is by the configured hasher, if it can
    (``NormalizingArgon2idPasswordHasher.adopt``), sparing the sign-in a second hash."""
    adopt = getattr(get_hasher("default"), "adopt", None)
    return adopt(raw_password, encoded) if adopt is not None else None


def _record(user, encoded: str) -> None:
    previous, current = credential(user, encoded), credential(user)
    if not previous:
        return
    # Steps recorded before move along to the new hash: a session from two rehashes ago
    # is as much this password's as one from the last.
    PasswordRehash.objects.filter(user_id=user.pk, current=previous).update(current=current)
    PasswordRehash.objects.create(user_id=user.pk, previous=previous, current=current)


def lifetime_register(seconds: Callable[[], int]) -> None:
    """Another app binds values to the password that live up to ``seconds()``: steps are
    kept that long too (``mfa`` registers its trusted browsers)."""
    if seconds not in _lifetimes:
        _lifetimes.append(seconds)


def rehashes_prune(now=None) -> int:
    """Forget steps older than the longest-lived value bound to a password (periodic, with
    ``accounts.expire_sessions``); returns how many."""
    keep = max([app_settings.SESSION_ABSOLUTE_TIMEOUT, app_settings.REMEMBER_ABSOLUTE_TIMEOUT,
                *(seconds() for seconds in _lifetimes)])
    cutoff = (now or timezone.now()) - timedelta(seconds=keep)
    deleted, _ = PasswordRehash.objects.filter(created_at__lt=cutoff).delete()
    return deleted
