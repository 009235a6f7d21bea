"""Argon2id with parameters from settings (OWASP minimum by default: 19 MiB, t=2, p=1), and
the same over the Unicode normal form of the password (NIST SP 800-63B-4).

Django's own Argon2 hasher fixes its parameters in class attributes; these subclasses read
them from the accounts settings, and Django's ``must_update`` then rehashes a stored
password on the next successful sign-in whenever the parameters change.

One password can reach the server as different strings: "é" is one code point typed on
most keyboards and two (``e`` and a combining accent) from a Mac's input methods or a
pasted text, and a phone may send full-width letters or a ligature ("ﬁ") where a laptop
sends plain ones. Hashed as typed, each is a different password, and a person cannot sign
in on another device with the password they chose. :class:`NormalizingArgon2idPasswordHasher`
hashes and checks the NFKC form of the password instead, so that every spelling of it is the
same. Its hashes have their own algorithm name (``argon2_nfkc``): a hash stored before, of
the password as typed, keeps the name ``argon2`` and is checked as typed by
:class:`Argon2idPasswordHasher` (or Django's own ``Argon2PasswordHasher``) listed after it, and
Django stores the password again in the normal form at its next successful check, as for
any change of hasher.
"""

from __future__ import annotations

import unicodedata

from django.contrib.auth.hashers import Argon2PasswordHasher
from django.views.decorators.debug import sensitive_variables

from accounts.app_settings import app_settings

#: The normal form passwords are hashed, checked and judged in (NIST SP 800-63B-4 allows
#: NFKC or NFKD; NFKC keeps the composed letters most keyboards send).
PASSWORD_NORMAL_FORM = "NFKC"


@sensitive_variables()
def normalize_password(password):
    """The password as it is hashed: its NFKC form, so that each code point of it counts as
    one character and every way of typing the same password is one string. Anything but a
    ``str`` (``None``, bytes) is returned as it is."""
    if not isinstance(password, str):
        return password
    return unicodedata.normalize(PASSWORD_NORMAL_FORM, password)


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id of the password as typed (algorithm ``argon2``, the name Django's own hasher
    and other tools read). Listed after :class:`NormalizingArgon2idPasswordHasher`, it checks
    the hashes stored before passwords were normalised."""

    @property
    def time_cost(self):  # type: ignore[override]
        return app_settings.ARGON2_TIME_COST

    @property
    def memory_cost(self):  # type: ignore[override]
        return app_settings.ARGON2_MEMORY_COST

    @property
    def parallelism(self):  # type: ignore[override]
        return app_settings.ARGON2_PARALLELISM


class NormalizingArgon2idPasswordHasher(Argon2idPasswordHasher):
    """Argon2id of the password's NFKC form (algorithm ``argon2_nfkc``): the suite's
    preferred hasher. Every path that hashes or checks a password (``set_password``,
    ``make_password``, ``check_password``, authentication backends, Django's and the admin's
    password forms) goes through ``encode`` and ``verify``, so none can skip the
    normalisation. Past its algorithm name the hash is a standard Argon2id (PHC) string."""

    algorithm = "argon2_nfkc"

    # Marked here, not only by the suite's callers: Django's password forms, the admin and
    # ``changepassword`` hash and check through these too. Hidden whole, as the Argon2
    # library beneath holds the password under names of its own.
    @sensitive_variables()
    def encode(self, password, salt):
        return super().encode(normalize_password(password), salt)

    @sensitive_variables()
    def verify(self, password, encoded):
        return super().verify(normalize_password(password), encoded)

    @sensitive_variables()
    def adopt(self, password, encoded: str) -> str | None:
        """``encoded``, a hash of ``password`` as typed that was just checked, in this
        hasher's name without hashing again, or None when it must be hashed again.

        A password already in normal form (every ASCII password, and most others) was hashed
        as it would be now, so the upgrade of a stored hash costs it no second hash: only
        its name changes, when its parameters are the current ones.
        """
        if not isinstance(password, str) or normalize_password(password) != password:
            return None
        legacy, separator, rest = encoded.partition("$")
        if legacy != Argon2PasswordHasher.algorithm or not separator:
            return None
        adopted = f"{self.algorithm}${rest}"
        try:
            if self.must_update(adopted):
                return None
        except ValueError:  # not an Argon2 string after all: hash the password again
            return None
        return adopted
