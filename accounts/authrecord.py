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


def record_set(request, amr) -> dict:
    amr = combine(amr)
    record = {"auth_time": now(), "amr": amr, "acr": acr_for(amr)}
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


def record_get(request) -> dict | None:
    if not getattr(request, "session", None):
        return None
    return request.session.get(SESSION_KEY)


def record_refresh(request, amr) -> dict:
    """Reauthentication: a new auth_time; amr gains the factors just used."""
    previous = record_get(request) or {}
    return record_set(request, [*previous.get("amr", []), *amr])


def is_recent(request, max_age: int | None = None) -> bool:
    record = record_get(request)
    if not record:
        return False
    max_age = app_settings.REAUTHENTICATION_TIMEOUT if max_age is None else max_age
    return now() - int(record.get("auth_time", 0)) <= max_age
