"""TOTP (RFC 6238): keys sealed at rest, codes accepted once, drift bounded by settings."""

from __future__ import annotations

import base64
import logging
import secrets
import time
from urllib.parse import quote, urlencode

from django.db import router
from django.views.decorators.debug import sensitive_variables
from django_otp.oath import hotp

from authsuite import crypto, db
from authsuite.app_settings import app_settings as core_settings
from mfa.app_settings import app_settings
from mfa.models import TOTPDevice

logger = logging.getLogger("authsuite.mfa")

PURPOSE = "mfa-totp"
KEY_BYTES = 20  # 160 bits, the size RFC 4226 recommends for HMAC-SHA1


def now() -> float:
    """Seam for tests: the current Unix time."""
    return time.time()


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class KeyUnreadable(ValueError):
    """No configured key opens a device's sealed TOTP key."""


@sensitive_variables()
def seal_key(key: bytes) -> str:
    return crypto.seal(key.hex(), key=app_settings.ENCRYPTION_KEY or None, purpose=PURPOSE)


@sensitive_variables()
def device_key(device: TOTPDevice) -> bytes:
    """The device's key. One sealed with a key now among the fallbacks is sealed again with
    the current one, so the fallback can be dropped once every device has been used.

    Tried in order: the current key (ENCRYPTION_KEY, else the secret box's), then
    ENCRYPTION_KEY_FALLBACKS, then, while the box's key seals, the box's own fallbacks
    (``crypto.box_keys``)."""
    current = app_settings.ENCRYPTION_KEY or None
    opened, current_opened = crypto.unseal_rotating(
        device.sealed_key, key=current, purpose=PURPOSE,
        fallbacks=app_settings.ENCRYPTION_KEY_FALLBACKS)
    if opened is None:
        logger.error("The TOTP key of device %s cannot be decrypted: the encryption key "
                     "changed without the old one in the fallbacks.", device.pk)
        raise KeyUnreadable(device.pk)
    if not current_opened:
        device.sealed_key = crypto.seal(opened, key=current, purpose=PURPOSE)
        TOTPDevice.objects.filter(pk=device.pk).update(sealed_key=device.sealed_key)
    return bytes.fromhex(opened)


@sensitive_variables()
def base32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


# Hidden whole: urlencode, beneath, holds the key under names of its own.
@sensitive_variables()
def otpauth_uri(device: TOTPDevice, account: str) -> str:
    issuer = app_settings.ISSUER or core_settings.SITE_NAME
    # A literal colon separates issuer and account (each encoded on its own): some apps
    # split the label on ":" only, and would show "%3A" inside one long name.
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode({
        "secret": base32(device_key(device)), "issuer": issuer, "algorithm": "SHA1",
        "digits": app_settings.TOTP_DIGITS, "period": app_settings.TOTP_STEP,
    })
    return f"otpauth://totp/{label}?{query}"


@sensitive_variables()
def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, generated locally (segno)."""
    import segno

    return segno.make(uri, error="m").svg_inline(scale=4, dark="#1b1f24", light="#ffffff")


@sensitive_variables()
def _well_formed(code: str) -> bool:
    """Whether ``code`` is an app's code as ``mfa.codes.read`` spells it: TOTP_DIGITS ASCII
    digits. Nothing else is compared, so no other spelling can ever match."""
    return len(code) == app_settings.TOTP_DIGITS and code.isascii() and code.isdigit()


# Hidden whole: besides the code and the key, the codes of the steps around it are secrets,
# and so are django-otp's HMAC values beneath.
@sensitive_variables()
def matching_step(device: TOTPDevice, code: str) -> int | None:
    """The time step whose code equals ``code`` (read by ``mfa.codes.read``) within the
    tolerance, else None."""
    if not _well_formed(code):
        return None
    try:
        key = device_key(device)
    except KeyUnreadable:
        return None  # no code can match: recovery codes, or staff, get the user in
    current = int(now()) // app_settings.TOTP_STEP
    tolerance = app_settings.TOTP_TOLERANCE
    for t in range(current - tolerance, current + tolerance + 1):
        expected = str(hotp(key, t, app_settings.TOTP_DIGITS)).zfill(app_settings.TOTP_DIGITS)
        if crypto.digests_match(expected, code):
            return t
    return None


@sensitive_variables("code")
def verify(device: TOTPDevice, code: str, **record) -> bool:
    """Accept ``code`` (read by ``mfa.codes.read``) at most once: the step must be newer
    than the last one used, whichever digits it was typed in.

    The check-and-set is one conditional UPDATE, so two concurrent requests with the same
    code cannot both pass. ``record`` names more columns that UPDATE sets on success
    (``last_used_at``...), so accepting a code costs one statement.
    """
    t = matching_step(device, code)
    if t is None:
        return False
    won = db.update(TOTPDevice, using=router.db_for_write(TOTPDevice),
                    where={"pk": device.pk, "last_t__lt": t}, values={"last_t": t, **record})
    if won:
        device.last_t = t
        for name, value in record.items():
            setattr(device, name, value)
    return bool(won)
