"""What text typed by people may hold: the checks every form and serializer share."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Unicode's bidi controls (the Bidi_Control property): the embeddings, overrides and isolates,
# and the invisible marks LRM, RLM and ALM. Each makes text read otherwise than it is stored
# (a mark beside digits or punctuation moves them on screen, and shows nothing itself).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_control_characters(value: str) -> bool:
    """C0 and C1 controls, DEL, and the bidi controls: none belongs in a name, an address
    or a code (a password may hold anything)."""
    if value.isascii():
        return any(ord(c) < 32 or ord(c) == 127 for c in value)
    return any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in value)


def refuse_control_characters(value: str) -> None:
    """A form field's validator: text with control characters in it is a field error."""
    if has_control_characters(value):
        raise ValidationError(_("Remove the control characters."), code="control_characters")


def has_visible_character(value: str) -> bool:
    """At least one letter, digit, mark, punctuation or symbol: zero-width and other format
    characters, and spaces, show nothing on their own."""
    return any(unicodedata.category(c)[0] not in "CZ" for c in value)
