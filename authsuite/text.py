"""What text typed by people may hold: the checks every form and serializer share."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

# Unicode's bidi controls (the Bidi_Control property): the embeddings, overrides and isolates,
# and the invisible marks LRM, RLM and ALM. Each makes text read otherwise than it is stored
# (a mark beside digits or punctuation moves them on screen, and shows nothing itself).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_BIDI_ESCAPES = "".join(f"\\u{ord(c):04x}" for c in sorted(BIDI_CONTROLS))

#: The same rule for the OpenAPI schema (an ECMA-262 ``pattern``): text without a C0 or C1
#: control, DEL (Unicode's Cc category, fixed since Unicode 1.1) or a bidi control. Empty text
#: is left to the field's own blank rule: drf-spectacular documents a blank field with a
#: pattern as ``oneOf`` the pattern and "", which "" must match once only.
CONTROL_FREE_PATTERN = f"^[^\\u0000-\\u001f\\u007f-\\u009f{_BIDI_ESCAPES}]+$"


def _is_control(c: str) -> bool:
    return unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS


def has_control_characters(value: str) -> bool:
    """C0 and C1 controls, DEL, and the bidi controls: none belongs in a name, an address
    or a code (a password may hold anything)."""
    if value.isascii():
        return any(ord(c) < 32 or ord(c) == 127 for c in value)
    return any(_is_control(c) for c in value)


def control_characters(value: str) -> list[str]:
    """The control characters in ``value``, each once, in the order they first appear."""
    return list(dict.fromkeys(c for c in value if _is_control(c)))


def character_label(c: str) -> str:
    """``U+200F (RIGHT-TO-LEFT MARK)``; a C0 or C1 control has no name: ``U+0001``."""
    name = unicodedata.name(c, "")
    return f"U+{ord(c):04X} ({name})" if name else f"U+{ord(c):04X}"


#: How many different characters a message names; the rest are counted.
NAMED_AT_MOST = 3


def control_characters_message(value: str) -> str:
    """What to tell someone whose text holds control characters: which ones, by code point
    and name, since most of them show nothing (an RLM pasted with a name is invisible)."""
    found = control_characters(value)
    named = ", ".join(character_label(c) for c in found[:NAMED_AT_MOST])
    if len(found) > NAMED_AT_MOST:
        rest = len(found) - NAMED_AT_MOST
        named = ngettext("%(named)s and %(count)d other", "%(named)s and %(count)d others",
                         rest) % {"named": named, "count": rest}
    return ngettext("Remove the control character %(named)s.",
                    "Remove the control characters %(named)s.", len(found)) % {"named": named}


def refuse_control_characters(value: str) -> None:
    """A form field's validator: text with control characters in it is a field error that
    names them."""
    if has_control_characters(value):
        raise ValidationError(control_characters_message(value), code="control_characters")


def has_visible_character(value: str) -> bool:
    """At least one letter, digit, mark, punctuation or symbol: zero-width and other format
    characters, and spaces, show nothing on their own."""
    return any(unicodedata.category(c)[0] not in "CZ" for c in value)
