"""WebAuthn ceremonies on py_webauthn, with every relying-party check of WebAuthn L3
§7.1/§7.2 that the library leaves to us: challenges bound to the session and the
ceremony, single use and short-lived; RP ID and origins from settings; crossOrigin and
topOrigin; backup flags; the signature counter; credential ownership.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.translation import gettext as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_attestation_object
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.errors import FlowError
from authsuite.app_settings import app_settings as core_settings
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError

SESSION_KEY = "_authsuite_webauthn"
CHALLENGE_BYTES = 32
MAX_RESPONSE_BYTES = 64 * 1024
MAX_CREDENTIAL_ID_BYTES = 1023
KNOWN_TRANSPORTS = ("ble", "hybrid", "internal", "nfc", "smart-card", "usb")
# What py_webauthn and its CBOR and COSE parsing raise on a malformed response: a public key
# that is a CBOR array, not a map, is an IndexError deep inside it.
MALFORMED = (WebAuthnException, ValueError, LookupError, TypeError, AttributeError,
             OverflowError, RecursionError)
#: Attestation formats whose certificate chain py_webauthn checks against roots it ships;
#: the others are only checked against ATTESTATION_ROOT_CERTS (and not at all without).
BUILTIN_ROOT_FORMATS = frozenset({"apple", "android-key", "android-safetynet"})


def now() -> float:
    """Seam for tests."""
    return time.time()


def b64url(data: bytes) -> str:
    return bytes_to_base64url(data)


def unb64url(text: str) -> bytes:
    try:
        return base64url_to_bytes(text)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise invalid() from exc


def invalid(message: str | None = None) -> FlowError:
    return FlowError(PasskeyError.INVALID,
                     message or _("The passkey response could not be verified."))


def _uv() -> UserVerificationRequirement:
    return UserVerificationRequirement(app_settings.USER_VERIFICATION)


def _value(member) -> str:
    """py_webauthn returns enum members or plain strings depending on the path."""
    return str(getattr(member, "value", member))


def uv_required() -> bool:
    return app_settings.USER_VERIFICATION == "required"


def _store(request, ceremony: str, challenge: bytes, **extra) -> None:
    request.session[SESSION_KEY] = {
        "ceremony": ceremony, "challenge": b64url(challenge),
        "expires": now() + app_settings.TIMEOUT / 1000, **extra,
    }


def take_challenge(request, ceremony: str) -> dict:
    """Remove the stored challenge (single use, before any verification) and return it if
    it belongs to ``ceremony`` and has not expired.

    Requests of one session running at the same moment each load the session before any
    of them saves it, so the session alone cannot make a challenge single use; an atomic
    ``cache.add`` of its digest decides which one request takes it.
    """
    stored = request.session.pop(SESSION_KEY, None)
    missing = FlowError(PasskeyError.CHALLENGE_MISSING, _("This passkey request expired. Try again."))
    if not isinstance(stored, dict) or stored.get("ceremony") != ceremony:
        raise missing
    remaining = stored.get("expires", 0) - now()
    if remaining < 0:
        raise missing
    used_key = "authsuite:webauthn:used:" + hashlib.sha256(stored["challenge"].encode()).hexdigest()
    if not cache.add(used_key, True, timeout=int(remaining) + 1):
        raise missing
    stored["challenge_bytes"] = unb64url(stored["challenge"])
    return stored


def registration_options(request, *, user, handle: str, name: str, display_name: str,
                         exclude: list[str], ceremony: str = "register", **extra) -> dict:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    attestation = (AttestationConveyancePreference.DIRECT if app_settings.ATTESTATION_FORMATS
                   else AttestationConveyancePreference.NONE)
    options = generate_registration_options(
        rp_id=app_settings.RP_ID, rp_name=app_settings.RP_NAME or core_settings.SITE_NAME,
        user_name=name, user_id=unb64url(handle), user_display_name=display_name,
        challenge=challenge, timeout=app_settings.TIMEOUT, attestation=attestation,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(app_settings.RESIDENT_KEY),
            user_verification=_uv(),
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=unb64url(c)) for c in exclude],
        supported_pub_key_algs=app_settings.ALGORITHMS,
    )
    _store(request, ceremony, challenge, **extra)
    return json.loads(options_to_json(options))


def authentication_options(request, *, ceremony: str, allow: list[str] | None = None,
                           **extra) -> dict:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_authentication_options(
        rp_id=app_settings.RP_ID, challenge=challenge, timeout=app_settings.TIMEOUT,
        allow_credentials=[PublicKeyCredentialDescriptor(id=unb64url(c)) for c in allow or []],
        user_verification=_uv(),
    )
    _store(request, ceremony, challenge, **extra)
    return json.loads(options_to_json(options))


def _parse(credential) -> dict:
    if isinstance(credential, str):
        if len(credential) > MAX_RESPONSE_BYTES:
            raise invalid()
        try:
            credential = json.loads(credential)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise invalid() from exc
    if not isinstance(credential, dict) or not isinstance(credential.get("response"), dict):
        raise invalid()
    if len(json.dumps(credential)) > MAX_RESPONSE_BYTES:
        raise invalid()
    return credential


def _check_client_data(credential: dict) -> None:
    """crossOrigin and topOrigin, which py_webauthn does not look at."""
    raw = credential["response"].get("clientDataJSON")
    if not isinstance(raw, str):
        raise invalid()
    try:
        client_data = json.loads(unb64url(raw))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise invalid() from exc
    if not isinstance(client_data, dict):
        raise invalid()
    cross_origin = client_data.get("crossOrigin", False)
    if not isinstance(cross_origin, bool):
        raise invalid()  # py_webauthn would read "false" (a string) as true, "" as false
    embedded = _("Passkeys cannot be used from an embedded page here.")
    if cross_origin and not app_settings.ALLOW_CROSS_ORIGIN:
        raise invalid(embedded)
    top = client_data.get("topOrigin")
    if top is not None and (not isinstance(top, str) or top not in app_settings.TOP_ORIGINS):
        raise invalid(embedded)


@dataclass
class Registered:
    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    fmt: str
    backup_eligible: bool
    backup_state: bool
    user_verified: bool
    transports: list[str]


def verify_registration(credential, *, challenge: bytes) -> Registered:
    credential = _parse(credential)
    _check_client_data(credential)
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge,
            expected_rp_id=app_settings.RP_ID, expected_origin=app_settings.ORIGINS,
            require_user_verification=uv_required(),
            supported_pub_key_algs=app_settings.ALGORITHMS,
            pem_root_certs_bytes_by_fmt={
                fmt: [pem.encode() for pem in pems]
                for fmt, pems in app_settings.ATTESTATION_ROOT_CERTS.items()
            } or None,
        )
    except MALFORMED as exc:
        raise invalid() from exc
    if app_settings.ATTESTATION_FORMATS and not _trusted(verified):
        raise invalid(_("This kind of authenticator is not accepted here."))
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise invalid()
    transports = credential["response"].get("transports")
    if not isinstance(transports, list):
        transports = []
    # Only the transports WebAuthn defines, once each: the list is shown back to the browser.
    transports = [t for t in KNOWN_TRANSPORTS if t in {x for x in transports if isinstance(x, str)}]
    return Registered(
        credential_id=b64url(verified.credential_id),
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        aaguid=str(verified.aaguid), fmt=_value(verified.fmt),
        backup_eligible=_value(verified.credential_device_type) == "multi_device",
        backup_state=verified.credential_backed_up, user_verified=verified.user_verified,
        transports=transports,
    )


def _trusted(verified) -> bool:
    """A required format, attested by a certificate chain that was checked against a root.

    py_webauthn accepts self attestation (no certificate: the credential vouches for
    itself) and skips the chain check when it has no root for the format, so neither says
    anything about the authenticator's make; both are refused when attestation is required.
    """
    fmt = _value(verified.fmt)
    if fmt not in app_settings.ATTESTATION_FORMATS or fmt == "none":
        return False
    if fmt not in BUILTIN_ROOT_FORMATS and not app_settings.ATTESTATION_ROOT_CERTS.get(fmt):
        return False
    try:
        statement = parse_attestation_object(verified.attestation_object).att_stmt
    except MALFORMED as exc:
        raise invalid() from exc
    return bool(statement.x5c)


def credential_id_of(credential) -> tuple[dict, str]:
    credential = _parse(credential)
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or not raw_id or len(raw_id) > 1400:
        raise invalid()
    return credential, b64url(unb64url(raw_id))


def user_handle_of(credential: dict) -> str | None:
    handle = credential["response"].get("userHandle")
    if handle in (None, ""):
        return None
    if not isinstance(handle, str):
        raise invalid()
    return b64url(unb64url(handle))


@dataclass
class Asserted:
    new_sign_count: int
    backup_eligible: bool
    backup_state: bool
    user_verified: bool


def verify_assertion(credential: dict, *, challenge: bytes, public_key: bytes,
                     sign_count: int) -> Asserted:
    """Verify the signature first, then the counter.

    py_webauthn compares counters before it checks the signature; we pass it 0 and
    compare ourselves afterwards, so that only a correctly signed assertion can flag a
    credential as cloned (an unsigned one with a low counter must not lock a user out).
    """
    _check_client_data(credential)
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge,
            expected_rp_id=app_settings.RP_ID, expected_origin=app_settings.ORIGINS,
            credential_public_key=public_key, credential_current_sign_count=0,
            require_user_verification=uv_required(),
        )
    except MALFORMED as exc:
        raise invalid() from exc
    received = verified.new_sign_count
    if (received > 0 or sign_count > 0) and received <= sign_count:
        raise CounterWentBackwards(received)
    return Asserted(
        new_sign_count=verified.new_sign_count,
        backup_eligible=_value(verified.credential_device_type) == "multi_device",
        backup_state=verified.credential_backed_up, user_verified=verified.user_verified,
    )


class CounterWentBackwards(Exception):
    """The authenticator's counter did not increase: a possible cloned authenticator."""


def new_handle() -> str:
    return b64url(secrets.token_bytes(32))
