"""How a typed code is read: once, before anything checks, counts or spends it.

A code reaches the server as whatever the keyboard sent. A phone in a CJK input mode sends
full-width digits ("１２３４５６"), an Arabic or Persian keyboard Arabic-Indic or Eastern
Arabic-Indic ones ("١٢٣٤٥٦", "۱۲۳۴۵۶"): each is a decimal digit (Unicode category Nd) and is
read as the digit it is, in any mix. Everything below this module (the TOTP check, the
recovery codes' digests, their single use) compares one spelling only, so a code typed in
other digits than the first time is the same code, and a replay of it is still a replay.

A number that is not a decimal digit (a superscript "²", a circled "①", a fraction "½", a
Roman numeral "Ⅻ") is no way anyone types a code, though NFKC would make digits of most of
them: a code holding one matches nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from mfa.app_settings import app_settings

TOTP = "totp"
RECOVERY_CODE = "recovery_code"

#: What a recovery code may be typed with between its groups, besides spaces.
RECOVERY_SEPARATOR = "-"
# Look-alikes read off paper, which the recovery codes' alphabet leaves out: o is 0, i and
# l are 1, u is v.
LOOK_ALIKES = str.maketrans({"o": "0", "i": "1", "l": "1", "u": "v"})


@dataclass(frozen=True)
class Code:
    """A code as read. ``method``: the factor its shape is for (``"totp"``, an app's code:
    ``TOTP_DIGITS`` decimal digits; else ``"recovery_code"``). ``text``: its one spelling,
    ASCII digits for an app's code, a recovery code in lowercase without separators and
    with look-alikes read as the characters they stand for; empty for a code holding a
    number that is not a decimal digit, which matches nothing.

    Its ``repr`` leaves the text out: a Code is passed around the flows that check it, and
    an error report shows every object in a traceback's frames by its ``repr``."""

    method: str
    text: str = field(repr=False)


@sensitive_variables()
def read(typed) -> Code:
    """Read ``typed`` (as a form or a JSON body gave it): NFKC, case folded, every decimal
    digit as its ASCII digit, spaces dropped."""
    folded = _folded(str(typed or ""))
    if folded is None:
        return Code(RECOVERY_CODE, "")
    text = "".join(folded.split())
    if len(text) == app_settings.TOTP_DIGITS and text.isascii() and text.isdigit():
        return Code(TOTP, text)
    return Code(RECOVERY_CODE, text.replace(RECOVERY_SEPARATOR, "").translate(LOOK_ALIKES))


@sensitive_variables()
def _folded(text: str) -> str | None:
    """``text`` in NFKC, its decimal digits ASCII, case folded; None when it holds a number
    that is not a decimal digit. NFKC already makes full-width digits ASCII, but not the
    Arabic-Indic ones, which have no compatibility mapping: ``unicodedata.decimal`` reads
    every script's digits alike."""
    if any(c.isnumeric() and not c.isdecimal() for c in text):
        return None
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text).casefold()
