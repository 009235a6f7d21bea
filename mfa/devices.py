"""Which factors a user has, and throttled verification common to every device type."""

from __future__ import annotations

from django.db import router
from django.db.models import F
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from accounts import authrecord
from accounts.exports import when
from accounts.pipeline import user_facts
from authsuite import db
from mfa import registry
from mfa.models import EnforcementState, RecoveryCodeSet, TOTPDevice, TrustedBrowser

DEVICE_MODELS = (TOTPDevice, RecoveryCodeSet)


def totp_devices(user):
    """The user's usable authenticator apps (``user`` may be ``OuterRef("pk")``): the factor
    provider MFA registers for itself."""
    return TOTPDevice.objects.filter(user=user, confirmed=True)


def describe_totp(count: int) -> str:
    return ngettext("an authenticator app", "%(n)d authenticator apps", count) % {"n": count}


def totp_device(user) -> TOTPDevice | None:
    # Compiled once (authsuite.db): every challenge reads it.
    return db.get(TOTPDevice, using=router.db_for_read(TOTPDevice),
                  where={"user_id": user.pk, "confirmed": True}, order_by="pk")


def recovery_set(user) -> RecoveryCodeSet | None:
    return RecoveryCodeSet.objects.filter(user=user, confirmed=True).first()


def has_mfa(user) -> bool:
    """A user "has MFA" when a primary second factor is set up (codes alone are a backup)."""
    return registry.has_factor(user_facts(user, registry.factor_facts()))


def ways(user, amr=None) -> list[str]:
    """The ways ``user`` can prove a second factor now: each registered factor with a row
    that can be proven (``"totp"``, an app; ``"passkey"``, one not flagged as cloned), then
    ``"recovery_code"`` while an unused code is left. With ``amr``, the first factor of a
    sign-in: only those that would make it multi-factor (:func:`code_completes`)."""
    found = registry.usable_factors(user)
    if has_unused_codes(user):
        found.append("recovery_code")
    return found if amr is None else usable_after(found, amr)


def usable_after(ways, amr) -> list[str]:
    """Those of ``ways`` that would make a sign-in whose first factor had ``amr``
    multi-factor: no code after a passkey that did not verify its user."""
    return list(ways) if code_completes(amr) else [way for way in ways if way not in CODES]


#: The ways that are a code: something you have, as an app, or as a printed list.
CODES = ("totp", "recovery_code")


def code_completes(amr) -> bool:
    """Whether a code after a first factor with ``amr`` makes the sign-in multi-factor. Not
    after a passkey that did not verify its user (something you have, as the phone with the
    app is): whoever holds both would be signed in without anything they know or are."""
    return "mfa" in authrecord.combine([*amr, "otp"])


def has_unused_codes(user) -> bool:
    """Whether ``user`` has a recovery code left: a set with every code used proves nothing."""
    codes = recovery_set(user)
    return codes is not None and codes.remaining() > 0


def can_prove(user) -> bool:
    """Whether the user has a second factor they can prove now (see :func:`ways`)."""
    return bool(ways(user))


@sensitive_variables("code")
def throttled_check(device, code: str) -> tuple[bool, object]:
    """Verify ``code`` (read by ``mfa.codes.read``) with django-otp's exponential back-off
    for this device.

    Returns ``(ok, locked_until)``; ``locked_until`` is set when the device refused to
    even try because of earlier failures. After a wrong code, ``device``'s
    ``throttling_failure_count`` is the device's wrong codes in a row, this one included.
    """
    allowed, info = device.verify_is_allowed()
    if not allowed:
        return False, (info or {}).get("locked_until")
    model = type(device)
    if device.verify_and_record(code, throttling_failure_count=0,
                                throttling_failure_timestamp=None, last_used_at=timezone.now()):
        return True, None
    rows = model.objects.filter(pk=device.pk)
    rows.update(throttling_failure_count=F("throttling_failure_count") + 1,
                throttling_failure_timestamp=timezone.now())
    # Read back in the caller's transaction, which the UPDATE's row lock orders with every
    # other failure: requests that loaded the device at the same moment each get a count of
    # their own, so the one whose wrong code is the CHALLENGE_MAX_FAILURES-th alerts (each
    # would otherwise report the count it loaded plus one, and none reach the limit).
    device.throttling_failure_count = rows.values_list(
        "throttling_failure_count", flat=True).first() or 0
    return False, None


def export_section(user) -> dict:
    """The account export's ``mfa`` section: factors, trusted browsers and when a second
    factor was first required of the account, never a key, a code or a digest."""
    codes = RecoveryCodeSet.objects.filter(user=user).first()
    required = EnforcementState.objects.filter(user=user).values_list("required_since",
                                                                      flat=True).first()
    return {
        # When the requirement of a second factor first applied (the grace period's start).
        "required_since": when(required),
        "authenticator_apps": [
            {"name": d.name, "confirmed": d.confirmed, "created_at": when(d.created_at),
             "last_used_at": when(d.last_used_at)}
            for d in TOTPDevice.objects.filter(user=user).order_by("pk")
        ],
        "recovery_codes": None if codes is None else {
            "remaining": codes.remaining(), "created_at": when(codes.created_at),
            "last_used_at": when(codes.last_used_at)},
        "trusted_browsers": [
            {"device": t.device, "ip": t.ip, "created_at": when(t.created_at),
             "expires_at": when(t.expires_at), "last_used_at": when(t.last_used_at)}
            for t in TrustedBrowser.objects.filter(user=user).order_by("pk")
        ],
    }
