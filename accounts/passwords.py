"""Password policy after NIST SP 800-63B-4: stabilized strings, length, a blocklist, a
breach check; no composition rules and no rotation.

Each validator judges the password in the normal form it is hashed in
(:func:`accounts.hashers.normalize_password`): its length counts the code points of that
form, and a common or breached password typed in full-width letters or with a ligature is
the common or breached password it stands for. A validator of Django's or the project's own
judges that form too when wrapped in :class:`NormalFormValidator`.

Add to ``AUTH_PASSWORD_VALIDATORS``::

    {"NAME": "accounts.passwords.LengthValidator", "OPTIONS": {"min_length": 15}},
    {"NAME": "accounts.passwords.BlocklistValidator"},
    {"NAME": "accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "accounts.passwords.StableStringValidator"},

Every path that validates a new password (the suite's flows, Django's password forms and the
admin's, ``changepassword``, ``createsuperuser`` at its prompt) calls Django's
``validate_password``, which runs this list: the list is the one place that covers them all.
What validates nothing is not covered: ``createsuperuser --noinput`` (its password from
``DJANGO_SUPERUSER_PASSWORD``) and code calling ``set_password`` itself.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from django.contrib.auth.password_validation import (
    CommonPasswordValidator,
    get_password_validators,
)
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from accounts import credentials, pwned
from accounts.app_settings import app_settings
from accounts.hashers import normalize_password
from accounts.pwned import BreachCheckUnavailable
from authsuite.app_settings import app_settings as core_settings

logger = logging.getLogger("authsuite.accounts")
#: The code of the refusal of a password the breach check could not be made for (while
#: ``AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE`` is ``"refuse"``).
CHECK_UNAVAILABLE = "password_check_unavailable"


class StableStringValidator:
    """Refuses a password that is not a stabilized string (NIST SP 800-63B-4 §3.1.1.2,
    Unicode Standard Annex #15 §12.1): one holding a code point this Python's Unicode data
    leaves unassigned (general category ``Cn``), or a surrogate (``Cs``).

    The NFKC form of an unassigned code point is the code point itself. A later Unicode
    version may assign it, with a decomposition or a combining class (Python's Unicode data
    comes with Python: ``unicodedata.unidata_version``, 14.0 on Python 3.11), and the same
    password typed the same way is then hashed and checked as another string: it no longer
    matches the hash stored before the upgrade. A newly assigned code point keeps its normal
    form for ever (Unicode's normalization stability policy), so only unassigned ones are
    refused. Noncharacters (U+FDD0 to U+FDEF, U+FFFE, ...) are ``Cn`` too and refused with
    them: no text meant to be exchanged holds one.

    Private-use code points (``Co``) are accepted: they are assigned, NFKC never changes
    them, and some input methods type characters a font maps there. A lone surrogate cannot
    be written as UTF-8, so no hasher can hash it; the pages and the JSON API never let one
    through (a form body decodes it as U+FFFD, the API answers ``invalid``), but a management
    command reading a terminal that is not UTF-8 may be handed one.

    Only new passwords are judged: a password stored with such a code point before still
    signs in, its normal form being the same as long as the Unicode data is. Neither
    category is changed by normalisation, so the password is judged as given.
    """

    @sensitive_variables()
    def validate(self, password, user=None):
        if password.isascii():
            return
        categories = {unicodedata.category(c) for c in password}
        if "Cs" in categories:
            raise ValidationError(
                _("This password contains a character that is not valid text (a lone "
                  "surrogate). Choose a password without it."),
                code="password_surrogate",
            )
        if "Cn" in categories:
            raise ValidationError(
                _("This password contains a character this site does not know yet, such as "
                  "a very recent emoji. Choose a password without it."),
                code="password_unassigned_character",
            )

    def get_help_text(self):
        return _("Characters newer than this site's version of Unicode cannot be used.")


class LengthValidator:
    """At least ``min_length`` characters (default 15) and at most ``max_length`` (1024).

    15 is NIST SP 800-63B-4's minimum for a password that may be the only factor; where a
    second factor is required of everyone, its floor is 8. Any ``min_length`` is accepted:
    staying at or above that floor is the project's choice, not checked here.

    The upper bound only stops absurd inputs from costing a hash; anything a person or a
    password manager would produce (128 characters and well beyond) is accepted. Both count
    the code points of the password's normal form: "é" is one character however it was
    typed. A password longer than ``PASSWORD_MAX`` as typed is refused too, whatever
    ``max_length``: a check refuses such a password unhashed
    (``credentials.password_matches``), so set where no form limits its length (Django's
    set-password forms, ``changepassword``), it could never be used to sign in.
    """

    def __init__(self, min_length: int = 15, max_length: int = 1024):
        self.min_length = min_length
        self.max_length = max_length

    @sensitive_variables("password")
    def validate(self, password, user=None):
        if credentials.too_long(password):
            raise ValidationError(
                _("Use at most %(max)d characters.") % {"max": credentials.PASSWORD_MAX},
                code="password_too_long",
            )
        password = normalize_password(password)
        if len(password) < self.min_length:
            raise ValidationError(
                ngettext(
                    "Use at least %(min)d character.", "Use at least %(min)d characters.",
                    self.min_length,
                ),
                code="password_too_short", params={"min": self.min_length},
            )
        if len(password) > self.max_length:
            raise ValidationError(
                _("Use at most %(max)d characters.") % {"max": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self):
        return _("Use at least %(min)d characters. Long passphrases are welcome.") % {
            "min": self.min_length
        }


_WORD_RE = re.compile(r"[^\W_]{4,}", re.UNICODE)
_NOT_WORD_RE = re.compile(r"[\W_]+", re.UNICODE)
# What people put around a common word to pass a length rule: digits, symbols, spaces.
_AFFIXES_RE = re.compile(r"[\W\d_]*(.*?)[\W\d_]*", re.UNICODE | re.DOTALL)
_REPEATED_RE = re.compile(r"(.+?)\1+", re.DOTALL)
# Keyboard rows (US layout), and the letter rows walked one after another.
_KEYBOARD = ("`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
             "qwertyuiopasdfghjklzxcvbnm")


_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def _core(value: str) -> str:
    return _AFFIXES_RE.fullmatch(value).group(1)


def _step(a: str, b: str) -> int:
    if a in _DIGITS and b in _DIGITS:  # 9 then 0 goes on the sequence: "890123"
        return {1: 1, 9: -1}.get((int(b) - int(a)) % 10, 0)
    return ord(b) - ord(a)


def _sequence(value: str) -> bool:
    """A run up or down the alphabet or the digits, or along a keyboard row, all the way."""
    steps = {_step(a, b) for a, b in zip(value, value[1:], strict=False)}
    if steps in ({1}, {-1}):
        return True
    return any(value in row or value in row[::-1] for row in _KEYBOARD)


class BlocklistValidator:
    """Rejects common passwords (also dressed up with digits and symbols, repeated, or a
    sequence: see :meth:`guessable`) and passwords built from context words.

    Context words are the site name, the project's own ``extra_words`` (its organisation,
    products, codenames: ``"OPTIONS": {"extra_words": [...]}``) and the parts of the user's
    email address and name: a password that is mostly one of them is the first thing an
    attacker tries.
    """

    def __init__(self, extra_words: list[str] | str | None = None):
        self.common = CommonPasswordValidator()
        if isinstance(extra_words, str):
            # One word written as text, not a list: iterated, it would be letters, each too
            # short to count, and the project's word would silently be no context word.
            extra_words = [extra_words]
        self.extra_words = [str(w).lower() for w in extra_words or []]

    def _context_words(self, user) -> set[str]:
        values = [core_settings.SITE_NAME, *self.extra_words]
        if user is not None:
            values += [getattr(user, attr, "") for attr in
                       ("email", "name", "first_name", "last_name", "username")]
        words = set()
        for value in values:
            value = normalize_password(str(value or "")).lower().strip()
            # The whole value ("ann.archer@example.com"), each word of it ("archer"), its
            # words run together ("fabrikamidentity"), and an address's local part.
            words.update((value, _NOT_WORD_RE.sub("", value), value.split("@", 1)[0]))
            words.update(_WORD_RE.findall(value))
        return {w for w in words if len(w) >= 4}

    @sensitive_variables()
    def guessable(self, lowered: str) -> bool:
        """A common password as it is, with digits or symbols around it ("Password123!"),
        repeated ("passwordpassword"), a short unit repeated ("aaaaaaaaaaaa", "abcabcabc")
        or a sequence ("123456789012", "qwertyuiop[]"): what guessers try first."""
        candidates = {lowered.strip(), _core(lowered)}
        repeated = _REPEATED_RE.fullmatch(lowered)
        if repeated:
            unit = repeated.group(1)
            if len(unit) <= 4:
                return True
            candidates.update((unit, _core(unit)))
        candidates = {c for c in candidates if len(c) >= 4}
        return bool(candidates & self.common.passwords) or (
            len(lowered) > 1 and _sequence(lowered))

    @sensitive_variables("password", "lowered", "rest")
    def validate(self, password, user=None):
        lowered = normalize_password(password).lower()
        # Mostly context words: removing all of them (longest first) leaves less than half.
        # Checked first: where both apply, the reason that names the person's own words
        # tells them more.
        rest = lowered
        for word in sorted(self._context_words(user), key=len, reverse=True):
            rest = rest.replace(word, "")
        if len(rest) < len(lowered) / 2:
            raise ValidationError(
                _("This password is too close to your email, name or the site name."),
                code="password_context_word",
            )
        if self.guessable(lowered):
            raise ValidationError(_("This password is too common."), code="password_too_common")

    def get_help_text(self):
        return _("Avoid common passwords and your own name or email address.")


class BreachedPasswordChecker:
    """Interface: say whether a password is known from a breach corpus. It is given the
    password in its normal form (NFKC), the string that is hashed.

    A checker that cannot answer (its service is down) raises
    :class:`~accounts.pwned.BreachCheckUnavailable`, with a reason that holds nothing of the
    password; the validator then does what
    ``AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE`` says."""

    def is_breached(self, password: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


@sensitive_variables()
def _sha1_hex(password: str) -> str:
    # A lone surrogate (StableStringValidator's to refuse) has no UTF-8 form and is in no
    # corpus: encoded anyway, so that a check answers instead of raising.
    encoded = password.encode("utf-8", errors="surrogatepass")
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest().upper()


class LocalListChecker(BreachedPasswordChecker):
    """Checks SHA-1 hashes against a local file in the Have-I-Been-Pwned download format.

    Each line is an upper-case SHA-1 hex digest, optionally followed by ``:count``. The
    file is read once per process into a set of hashes. A file that cannot be read (gone,
    not readable by the process, not ASCII) is :class:`~accounts.pwned.BreachCheckUnavailable`,
    as a service that does not answer is (``authsuite_accounts.E018`` reports it at start-up).
    """

    def __init__(self, path: str | None = None):
        self.path = path or app_settings.BREACHED_PASSWORD_FILE

    @sensitive_variables("password")
    def is_breached(self, password: str) -> bool:
        if not self.path:
            return False
        try:
            hashes = _load_hashes(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            # Its type only: an OSError's text holds the file's path.
            raise BreachCheckUnavailable(
                f"the breached-password file cannot be read ({type(exc).__name__})") from None
        return _sha1_hex(password) in hashes


class PwnedPasswordsChecker(BreachedPasswordChecker):
    """Asks the Pwned Passwords range API (k-anonymity) whether a password was seen in a
    breach, as ASVS 5.0 6.2.12 and NIST SP 800-63B-4 ask of new passwords.

    Only the first five hex digits of the password's upper-case SHA-1 leave the server
    (``GET <BREACHED_PASSWORD_API_URL>/range/<prefix>``, with ``Add-Padding: true``); the
    rest of the digest is matched against the answer here (:mod:`accounts.pwned`). A
    password seen ``BREACHED_PASSWORD_MIN_COUNT`` times or more is breached. No answer within
    ``BREACHED_PASSWORD_API_TIMEOUT`` seconds, an HTTP error or an answer that is no range
    answer raises :class:`~accounts.pwned.BreachCheckUnavailable`.
    """

    def __init__(self, base_url: str | None = None, timeout: float | None = None,
                 min_count: int | None = None):
        self.base_url = base_url or app_settings.BREACHED_PASSWORD_API_URL
        self.timeout = float(timeout or app_settings.BREACHED_PASSWORD_API_TIMEOUT)
        self.min_count = max(1, int(min_count or app_settings.BREACHED_PASSWORD_MIN_COUNT))

    @sensitive_variables("password")
    def is_breached(self, password: str) -> bool:
        seen = pwned.sightings(_sha1_hex(password), base_url=self.base_url, timeout=self.timeout)
        return seen >= self.min_count


@lru_cache(maxsize=4)
def _load_hashes(path: str) -> frozenset[str]:
    lines = Path(path).read_text(encoding="ascii").splitlines()
    return frozenset(line.split(":", 1)[0].strip().upper() for line in lines if line.strip())


@lru_cache(maxsize=1)
def _checker_class(path: str):
    return import_string(path)


def reset_caches(*, setting, **kwargs):
    """``setting_changed`` receiver (connected in ``AccountsConfig.ready``)."""
    if setting.startswith("AUTHSUITE_ACCOUNTS_BREACHED"):
        _checker_class.cache_clear()
        _load_hashes.cache_clear()


def breached_checker() -> BreachedPasswordChecker | None:
    path = app_settings.BREACHED_PASSWORD_CHECKER
    return _checker_class(path)() if path else None


class BreachedPasswordValidator:
    """Rejects passwords the configured breached-password checker knows."""

    # Hidden whole: a project's own checker, beneath, may hold the password or its digest
    # under any name.
    @sensitive_variables()
    def validate(self, password, user=None):
        checker = breached_checker()
        if checker is None:
            return
        try:
            breached = checker.is_breached(normalize_password(password))
        except BreachCheckUnavailable as exc:
            self._unavailable(exc)
            return
        if breached:
            raise ValidationError(
                _("This password has appeared in a data breach. Choose another one."),
                code="password_breached",
            )

    def _unavailable(self, exc: BreachCheckUnavailable) -> None:
        """The check could not be made. By default the password is accepted: a sign-up must
        not fail because a third party is down. Either way the reason is logged, and only it
        (never the password, nor anything of its hash)."""
        if app_settings.BREACHED_PASSWORD_WHEN_UNAVAILABLE == "refuse":
            logger.warning("Breached-password check could not be made (%s): the password is "
                           "refused.", exc)
            raise ValidationError(
                _("This password could not be checked against known data breaches just now. "
                  "Try again in a few minutes."),
                code=CHECK_UNAVAILABLE,
            )
        logger.warning("Breached-password check could not be made (%s): the password is "
                       "accepted unchecked.", exc)

    def get_help_text(self):
        return _("Passwords known from data breaches are refused.")


def normal_form_view(user):
    """A shallow copy of ``user`` whose string attributes (its fields: email, names, ...)
    are in the normal form the password is judged in; ``user`` itself is left as it is, so
    nothing a validator does can save a changed name. None stays None."""
    if user is None:
        return None
    view = copy.copy(user)
    attributes = getattr(view, "__dict__", {})
    for name, value in list(attributes.items()):
        if isinstance(value, str):
            attributes[name] = normalize_password(value)
    return view


class NormalFormValidator:
    """Another validator (Django's own, a project's) given the password in the normal form it
    is hashed in, as the suite's validators judge it: wrapped, Django's
    ``CommonPasswordValidator`` refuses "ｐａｓｓｗｏｒｄ", hashed as "password", and its
    ``MinimumLengthValidator`` counts the code points of the normal form. ::

        {"NAME": "accounts.passwords.NormalFormValidator",
         "OPTIONS": {"validator": "django.contrib.auth.password_validation.MinimumLengthValidator",
                     "options": {"min_length": 12}}},

    ``validator`` and ``options`` are the ``NAME`` and ``OPTIONS`` the entry had; an unknown
    name is Django's ``ImproperlyConfigured``, as it would have been.

    The validator sees the user in the normal form too (:func:`normal_form_view`): Django's
    ``UserAttributeSimilarityValidator`` compares the password with a name stored in
    full-width letters, or decomposed, as with the name it stands for.
    """

    def __init__(self, validator: str, options: dict | None = None):
        (self.validator,) = get_password_validators([{"NAME": validator,
                                                      "OPTIONS": options or {}}])

    # Hidden whole: the wrapped validator, Django's or the project's, may hold the password
    # under any name.
    @sensitive_variables()
    def validate(self, password, user=None):
        self.validator.validate(normalize_password(password), normal_form_view(user))

    @sensitive_variables()
    def password_changed(self, password, user=None):
        """Django calls this after a password is set; passed on to a validator that has it,
        with the user itself: a validator may keep something about it (a password history)."""
        changed = getattr(self.validator, "password_changed", None)
        if changed is not None:
            changed(normalize_password(password), user)

    def get_help_text(self):
        return self.validator.get_help_text()


#: The validators that judge a password in its normal form (or, for StableStringValidator,
#: whatever its form): any other listed while passwords are hashed normalised is warned of
#: (``authsuite_accounts.W007``).
NORMAL_FORM_VALIDATORS = (StableStringValidator, LengthValidator, BlocklistValidator,
                          BreachedPasswordValidator, NormalFormValidator)
