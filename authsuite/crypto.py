"""Small cryptographic helpers: random tokens, keyed token hashes, an encrypting box.

High-entropy secrets (256-bit tokens) are stored as a keyed HMAC, never with a password
hasher: a slow hash adds nothing against brute force of a 256-bit value and would make every
link click cost a password hash.

Each helper given a secret or key material hides all its variables from error reports
(``sensitive_variables``), and so those of the Django and ``cryptography`` code beneath it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from authsuite.app_settings import app_settings

TOKEN_BYTES = 32  # 256 bits from the CSPRNG


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """A URL-safe random token carrying ``nbytes`` bytes of CSPRNG output."""
    return secrets.token_urlsafe(nbytes)


@sensitive_variables()
def token_digest(raw: str, *, purpose: str) -> str:
    """Keyed SHA-256 of a token; the purpose is part of the key so digests never cross uses."""
    return salted_hmac(f"authsuite.token.{purpose}", raw, algorithm="sha256").hexdigest()


@sensitive_variables()
def token_digests(raw: str, *, purpose: str) -> list[str]:
    """The digests a token stored before now may have: with SECRET_KEY, then with each of
    ``SECRET_KEY_FALLBACKS``. Rotating SECRET_KEY the way Django documents it must not void
    what was stored under the old key (recovery codes, above all, that live for years)
    while the old key is still listed, as Django's own signed values and tokens do."""
    from django.conf import settings

    return [token_digest(raw, purpose=purpose), *(
        salted_hmac(f"authsuite.token.{purpose}", raw, secret=old, algorithm="sha256").hexdigest()
        for old in settings.SECRET_KEY_FALLBACKS if old)]


@sensitive_variables()
def digest_matches(stored: str, raw: str, *, purpose: str, length: int | None = None) -> bool:
    """Whether ``stored`` is ``raw``'s digest (its first ``length`` characters) under
    SECRET_KEY or one of its fallbacks (:func:`token_digests`)."""
    return any(digests_match(stored, digest[:length])
               for digest in token_digests(raw, purpose=purpose))


@sensitive_variables()
def digests_match(a: str, b: str) -> bool:
    return constant_time_compare(a, b)


@sensitive_variables()
def box_keys() -> list[str]:
    """The secret box's key material, the key that seals first: ``AUTHSUITE_SECRET_BOX_KEY``
    (``SECRET_KEY`` while it is unset), then ``AUTHSUITE_SECRET_BOX_KEY_FALLBACKS``, then,
    while ``SECRET_KEY`` is the box's key, Django's ``SECRET_KEY_FALLBACKS``. Fallbacks only
    open: rotating a key the way Django documents it for SECRET_KEY must not make mail
    still waiting to be sent, or a link kept in a session, unreadable."""
    from django.conf import settings

    fallbacks = app_settings.SECRET_BOX_KEY_FALLBACKS
    if app_settings.SECRET_BOX_KEY:
        return [app_settings.SECRET_BOX_KEY, *fallbacks]
    return [settings.SECRET_KEY, *fallbacks, *settings.SECRET_KEY_FALLBACKS]


@sensitive_variables()
def _keys(key: str | None, fallbacks: Sequence[str]) -> list[str]:
    """Key material that opens a sealed value, the current key first.

    An app's own ``key`` comes with the app's own ``fallbacks`` only. Without one the box's
    key seals, and the box's fallbacks follow the app's: a value the box sealed before a
    rotation of its key opens whichever app sealed it."""
    if key:
        chain = [key, *fallbacks]
    else:
        current, *box_fallbacks = box_keys()
        chain = [current, *fallbacks, *box_fallbacks]
    return list(dict.fromkeys(material for material in chain if material))


@sensitive_variables()
def _fernet(material: str, purpose: str) -> Fernet:
    key = hashlib.sha256(f"authsuite.{purpose}:".encode() + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


@sensitive_variables()
def seal(plaintext: str, *, key: str | None = None, purpose: str = "secretbox") -> str:
    """Encrypt and authenticate ``plaintext`` for storage (AES-128-CBC + HMAC, Fernet),
    always with the current key.

    ``key`` is the app's own key material (falls back to SECRET_BOX_KEY, then SECRET_KEY);
    ``purpose`` separates the keys derived for different uses.
    """
    return _fernet(_keys(key, ())[0], purpose).encrypt(plaintext.encode()).decode()


@sensitive_variables()
def unseal(sealed: str, *, key: str | None = None, purpose: str = "secretbox",
           fallbacks: Sequence[str] = ()) -> str | None:
    """Decrypt a value from :func:`seal`; None when it was tampered with or no key opens it.

    Tried in order: the current key, the app's ``fallbacks`` (earlier values of ``key``),
    then, when the box's key seals (no ``key``), the box's own fallbacks
    (:func:`box_keys`)."""
    return unseal_rotating(sealed, key=key, purpose=purpose, fallbacks=fallbacks)[0]


@sensitive_variables()
def unseal_rotating(sealed: str, *, key: str | None = None, purpose: str = "secretbox",
                    fallbacks: Sequence[str] = ()) -> tuple[str | None, bool]:
    """:func:`unseal`, and whether the current key opened it (False: a fallback did, and
    the value is due to be sealed again)."""
    for index, material in enumerate(_keys(key, fallbacks)):
        try:
            return _fernet(material, purpose).decrypt(sealed.encode()).decode(), index == 0
        except (InvalidToken, ValueError):
            continue
    return None, False


@sensitive_variables()
def sealed_with_current(sealed: str, *, key: str | None = None,
                        purpose: str = "secretbox") -> bool:
    """Whether ``sealed`` opens with the current key (not only with a fallback)."""
    try:
        _fernet(_keys(key, ())[0], purpose).decrypt(sealed.encode())
    except (InvalidToken, ValueError):
        return False
    return True


@sensitive_variables()
def signed_value(raw: str, *, salt: str, max_age: int):
    """What ``django.core.signing.dumps`` signed into ``raw`` (a cookie, say), or None:
    forged, expired or malformed alike. A compressed value is refused before it is
    unpacked (the suite never compresses one, and unpacking has no size bound), and so is
    one whose JSON nests too deep."""
    if not raw or raw.startswith("."):
        return None
    try:
        return signing.loads(raw, salt=salt, max_age=max_age)
    except (signing.BadSignature, ValueError, RecursionError):
        return None
