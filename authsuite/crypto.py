"""Small cryptographic helpers: random tokens, keyed token hashes, an encrypting box.

High-entropy secrets (256-bit tokens) are stored as a keyed HMAC, never with a password
hasher: a slow hash adds nothing against brute force of a 256-bit value and would make every
link click cost a password hash.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from authsuite.app_settings import app_settings

TOKEN_BYTES = 32  # 256 bits from the CSPRNG


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """A URL-safe random token carrying ``nbytes`` bytes of CSPRNG output."""
    return secrets.token_urlsafe(nbytes)


def token_digest(raw: str, *, purpose: str) -> str:
    """Keyed SHA-256 of a token; the purpose is part of the key so digests never cross uses."""
    return salted_hmac(f"authsuite.token.{purpose}", raw, algorithm="sha256").hexdigest()


def token_digests(raw: str, *, purpose: str) -> list[str]:
    """The digests a token stored before now may have: with SECRET_KEY, then with each of
    ``SECRET_KEY_FALLBACKS``. Rotating SECRET_KEY the way Django documents it must not void
    what was stored under the old key (recovery codes, above all, that live for years)
    while the old key is still listed, as Django's own signed values and tokens do."""
    from django.conf import settings

    return [token_digest(raw, purpose=purpose), *(
        salted_hmac(f"authsuite.token.{purpose}", raw, secret=old, algorithm="sha256").hexdigest()
        for old in settings.SECRET_KEY_FALLBACKS if old)]


def digest_matches(stored: str, raw: str, *, purpose: str, length: int | None = None) -> bool:
    """Whether ``stored`` is ``raw``'s digest (its first ``length`` characters) under
    SECRET_KEY or one of its fallbacks (:func:`token_digests`)."""
    return any(digests_match(stored, digest[:length])
               for digest in token_digests(raw, purpose=purpose))


def digests_match(a: str, b: str) -> bool:
    return constant_time_compare(a, b)


def _fernet(material: str | None, purpose: str) -> Fernet:
    from django.conf import settings

    material = material or app_settings.SECRET_BOX_KEY or settings.SECRET_KEY
    key = hashlib.sha256(f"authsuite.{purpose}:".encode() + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(plaintext: str, *, key: str | None = None, purpose: str = "secretbox") -> str:
    """Encrypt and authenticate ``plaintext`` for storage (AES-128-CBC + HMAC, Fernet).

    ``key`` is the app's own key material (falls back to SECRET_BOX_KEY, then SECRET_KEY);
    ``purpose`` separates the keys derived for different uses.
    """
    return _fernet(key, purpose).encrypt(plaintext.encode()).decode()


def unseal(sealed: str, *, key: str | None = None, purpose: str = "secretbox",
           fallbacks: list[str] | None = None) -> str | None:
    """Decrypt a value from :func:`seal`; None when it was tampered with or no key opens it.

    ``fallbacks`` is the key material used before ``key`` (while keys rotate); when the key
    is Django's own SECRET_KEY, its ``SECRET_KEY_FALLBACKS`` are tried too."""
    return unseal_rotating(sealed, key=key, purpose=purpose, fallbacks=fallbacks)[0]


def unseal_rotating(sealed: str, *, key: str | None = None, purpose: str = "secretbox",
                    fallbacks: list[str] | None = None) -> tuple[str | None, bool]:
    """:func:`unseal`, and whether the current key opened it (False: a fallback did, and
    the value is due to be sealed again)."""
    for index, box in enumerate(_boxes(key, purpose, fallbacks)):
        try:
            return box.decrypt(sealed.encode()).decode(), index == 0
        except (InvalidToken, ValueError):
            continue
    return None, False


def sealed_with_current(sealed: str, *, key: str | None = None,
                        purpose: str = "secretbox") -> bool:
    """Whether ``sealed`` opens with the current key (not only with a fallback)."""
    return unseal_rotating(sealed, key=key, purpose=purpose, fallbacks=[])[1]


def _boxes(key: str | None, purpose: str, fallbacks: list[str] | None) -> list[Fernet]:
    from django.conf import settings

    if fallbacks is None:
        uses_secret_key = not key and not app_settings.SECRET_BOX_KEY
        fallbacks = list(settings.SECRET_KEY_FALLBACKS) if uses_secret_key else []
    return [_fernet(key, purpose), *(_fernet(old, purpose) for old in fallbacks if old)]


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
