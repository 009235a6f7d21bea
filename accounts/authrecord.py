"""The authentication record kept in the session: when and how the user authenticated.

``{"auth_time": <unix seconds>, "amr": [RFC 8176 values], "acr": <level>}``. OIDC reads it
for ``auth_time``/``amr``/``acr``; sensitive actions read ``auth_time`` to decide whether a
reauthentication is needed.
"""

from __future__ import annotations

import time

from accounts.app_settings import app_settings

SESSION_KEY = "_authsuite_auth"

# Assurance levels, lowest first.
ACR_SINGLE_FACTOR = "urn:authsuite:acr:1fa"
ACR_MULTI_FACTOR = "urn:authsuite:acr:mfa"
ACR_PHISHING_RESISTANT = "urn:authsuite:acr:phr"

# Each amr value's factor kind: "mfa" is earned by two distinct kinds.
# A password and an emailed link are one kind: whoever holds the mailbox can reset the
# password through it, so the two together prove no more than the mailbox does. A magic
# link plus an authenticator app are two independent factors; a magic link alone is one.
FACTOR_KIND = {
    "pwd": "mailbox", "otp": "have", "email": "mailbox", "hwk": "have", "swk": "have",
    "sms": "have", "user": "are", "pin": "know", "fpt": "are", "face": "are",
}
PHISHING_RESISTANT = {"hwk", "swk"}


def now() -> int:
    """Seam for tests: the current time in whole seconds."""
    return int(time.time())


def combine(amr) -> list[str]:
    """Sorted unique amr values, with ``mfa`` added when two factor kinds are present.

    A magic link (``email``) counts as one factor on its own: it proves control of a
    mailbox, not a second independent factor, so it never makes ``mfa`` by itself.
    """
    values = {v for v in amr if v != "mfa"}
    kinds = {FACTOR_KIND.get(v, v) for v in values}
    if len(kinds) >= 2:
        values.add("mfa")
    return sorted(values)


def acr_for(amr) -> str:
    values = set(amr)
    if values & PHISHING_RESISTANT and "mfa" in values:
        return ACR_PHISHING_RESISTANT
    if "mfa" in values:
        return ACR_MULTI_FACTOR
    return ACR_SINGLE_FACTOR


def record_set(request, amr, *, earlier: dict | None = None) -> dict:
    """A new record: the factors ``amr`` proven now, besides those of ``earlier`` (a record
    being refreshed), which keep the times they were proven at."""
    at = now()
    proven = {**_proven(earlier or {}), **dict.fromkeys((v for v in amr if v != "mfa"), at)}
    amr = combine([*(earlier or {}).get("amr", []), *amr])
    record = {"auth_time": at, "amr": amr, "acr": acr_for(amr), "proven": proven}
    request.session[SESSION_KEY] = record
    return record


def record_step_up(request, amr) -> dict:
    """A signed-in session gained a factor (proven again, or just added): a new session key,
    so a copy of the cookie taken before is worth less, and a refreshed record.

    The session is written at once, in the caller's transaction when there is one.
    """
    from accounts.sessions import session_write

    request.session.cycle_key()
    record = record_refresh(request, amr)
    session_write(request)
    return record


def record_public(request) -> dict | None:
    """The record as the API and the pages show it: ``auth_time``, ``amr`` and the ``acr``
    it still vouches for (:func:`acr_now`); ``amr`` says ``mfa`` only while that holds."""
    record = record_get(request)
    if record is None:
        return None
    acr = acr_now(record)
    amr = record["amr"] if acr != ACR_SINGLE_FACTOR else [v for v in record["amr"] if v != "mfa"]
    return {"auth_time": record["auth_time"], "amr": amr, "acr": acr}


def mfa_current(request) -> bool:
    """Whether the session vouches for two factors now (:func:`acr_now`)."""
    record = record_get(request)
    return bool(record) and acr_now(record) != ACR_SINGLE_FACTOR


def first_factor_current(request) -> bool:
    """Whether a password or an emailed link was proven within ``MFA_ASSURANCE_MAX_AGE``:
    if so, a second factor now makes the session vouch for two again (a step-up); if not,
    both must be proven again (a reauthentication)."""
    return _first_factor_fresh(record_get(request) or {}, app_settings.MFA_ASSURANCE_MAX_AGE)


def acr_now(record: dict) -> str:
    """The level ``record`` vouches for now, which may be below the one it was made with.

    A level above one factor holds for ``MFA_ASSURANCE_MAX_AGE`` seconds after the factors
    that earned it were last proven (SP 800-63B-4 asks AAL2 to authenticate again at least
    every 24 hours); past that, a session kept signed in longer ("keep me signed in") vouches
    for one factor until they are proven again, by a reauthentication or a step-up.
    """
    max_age = app_settings.MFA_ASSURANCE_MAX_AGE
    return acr_for(combine(value for value, at in _proven(record).items() if _fresh(at, max_age)))


def record_get(request) -> dict | None:
    if not getattr(request, "session", None):
        return None
    return request.session.get(SESSION_KEY)


def record_refresh(request, amr) -> dict:
    """Reauthentication: a new auth_time; amr gains the factors just used."""
    return record_set(request, amr, earlier=record_get(request) or {})


def _proven(record: dict) -> dict:
    """When each factor was last proven (a record from before this was kept: all of them at
    its auth_time)."""
    if "proven" in record:
        return dict(record["proven"])
    return dict.fromkeys((v for v in record.get("amr", []) if v != "mfa"),
                         int(record.get("auth_time", 0)))


def is_recent(request, max_age: int | None = None) -> bool:
    """Whether the session authenticated recently enough for a sensitive action: within
    ``max_age`` seconds (the reauthentication timeout), and, for an account that has a
    second factor now, with two factors (ASVS 5.0 7.5.1: a full reauthentication), or a
    second factor would be worth nothing to whoever holds the cookie and the password.

    Whatever the session proved at its sign-in: one that signed in with the password alone
    (before the owner added the factor, or on a trusted browser) proves the factor too, or
    whoever holds that cookie and the password could remove it with the password again."""
    record = record_get(request)
    if not record or not _fresh(record.get("auth_time", 0), max_age):
        return False
    return not _second_factor_stale(request, record, max_age)


def second_factor_due(request, max_age: int | None = None) -> bool:
    """Whether the password (or an emailed link) was proven recently, and the session must
    prove the account's second factor (again, or for the first time in this session) before
    a sensitive action. (A recent code with a stale password: it is the password that is
    due.)"""
    record = record_get(request)
    if not record or not _fresh(record.get("auth_time", 0), max_age):
        return False
    return (_first_factor_fresh(record, max_age)
            and _second_factor_stale(request, record, max_age))


def _first_factor_fresh(record: dict, max_age: int | None) -> bool:
    """Whether a password or an emailed link was proven within ``max_age``."""
    return any(FACTOR_KIND.get(value) == "mailbox" and _fresh(at, max_age)
               for value, at in _proven(record).items())


# Who can tell whether an account has a second factor now: the MFA app registers one.
_second_factor_checks: list = []


def second_factor_check_register(check) -> None:
    """``check(user) -> bool``: whether the account has a second factor a sensitive action
    must prove. One removed since the sign-in is not asked for; one added since is."""
    if check not in _second_factor_checks:
        _second_factor_checks.append(check)


# Who can tell whether an account can prove a second factor now: the MFA app registers one.
_second_factor_usable_checks: list = []


def second_factor_usable_register(check) -> None:
    """``check(user) -> bool``: whether the account has a second factor it can prove now.
    A factor disabled for safety (a passkey flagged as cloned) still counts for
    :func:`second_factor_check_register`, so that the password alone never passes where it
    stood, but not here."""
    if check not in _second_factor_usable_checks:
        _second_factor_usable_checks.append(check)


def second_factor_unusable(request) -> bool:
    """Whether the account has no second factor it can prove now: its only one disabled for
    safety, no recovery code left. Asked once :func:`second_factor_due` says the second
    factor is due: such a session stays refused until staff reset two-step verification;
    this only lets the page and the API say so, instead of asking for a factor that cannot
    be given."""
    if not _second_factor_usable_checks:
        return False
    user = getattr(request, "user", None)
    return not any(check(user) for check in _second_factor_usable_checks)


def _second_factor_stale(request, record: dict, max_age: int | None) -> bool:
    """Whether the account has a second factor now and the session has not proven two
    factors within ``max_age``.

    What the session proved at its sign-in does not matter: the account's factors now do. A
    session that signed in with the password before the owner added an app, or on a browser
    trusted not to be asked, holds no more than a stolen cookie and the password would."""
    user = getattr(request, "user", None)
    if not any(check(user) for check in _second_factor_checks):
        return False
    recent = [value for value, at in _proven(record).items() if _fresh(at, max_age)]
    return "mfa" not in combine(recent)


def _fresh(at, max_age: int | None) -> bool:
    max_age = app_settings.REAUTHENTICATION_TIMEOUT if max_age is None else max_age
    return now() - int(at) <= max_age
