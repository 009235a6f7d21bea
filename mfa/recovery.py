"""Recovery codes: 120 bits each from the CSPRNG, stored only as keyed hashes, single use.

NIST SP 800-63B-4 (look-up secrets) and ASVS 5.0 allow a fast keyed hash only for secrets of
112 bits or more; shorter ones would need a salted password hash, slow to check against
every code of a set.
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authsuite import crypto
from mfa.app_settings import app_settings
from mfa.models import RecoveryCode, RecoveryCodeSet

# Crockford-style base32 without look-alikes: 24 characters x 5 bits = 120 bits per code.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
CODE_CHARS = 24
BITS_PER_CODE = CODE_CHARS * 5
# Sets made before codes were this long hold 12-character codes: they work until replaced.
EARLIER_CODE_CHARS = 12


@sensitive_variables()
def _format(raw: str) -> str:
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@sensitive_variables()
def _digest(code: str) -> str:
    return crypto.token_digest(code, purpose="mfa-recovery")


# Hidden whole: the comprehensions' frames, and Django's bulk_create beneath as it draws the
# digests from a generator, hold the codes one at a time.
@sensitive_variables()
def generate(user) -> list[str]:
    """Replace the user's codes with a fresh set; returns the codes to show once."""
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
             for _ in range(app_settings.RECOVERY_CODES)]
    with transaction.atomic():
        RecoveryCodeSet.objects.filter(user=user).delete()
        device = RecoveryCodeSet.objects.create(user=user, name="Recovery codes")
        RecoveryCode.objects.bulk_create(
            RecoveryCode(device=device, digest=_digest(c)) for c in codes
        )
    return [_format(c) for c in codes]


@sensitive_variables()
def consume(device: RecoveryCodeSet, code: str) -> RecoveryCode | None:
    """Use one code, as ``mfa.codes.read`` spelled it (lowercase, no separators, look-alikes
    read): however it was typed, one code has one digest, and is used once. Of two
    concurrent uses of the same code exactly one wins."""
    if (len(code) not in (CODE_CHARS, EARLIER_CODE_CHARS) or not code.isascii()
            or any(ch not in ALPHABET for ch in code)):
        return None
    # Under SECRET_KEY or a fallback: a rotation does not void the codes made before it.
    digests = crypto.token_digests(code, purpose="mfa-recovery")
    found = RecoveryCode.objects.filter(device=device, digest__in=digests,
                                        used_at__isnull=True).first()
    if found is None:
        return None
    won = RecoveryCode.objects.filter(pk=found.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return found if won else None
