"""The checks on text people type (authsuite.text): which characters count as controls."""

from __future__ import annotations

import unicodedata

import pytest
from django.core.exceptions import ValidationError

from authsuite.text import (
    BIDI_CONTROLS,
    control_characters_message,
    has_control_characters,
    refuse_control_characters,
)

# Unicode's Bidi_Control property (PropList.txt): each makes text read otherwise than it is
# stored. (The three marks have the bidi class of a letter, so no lookup of classes finds them.)
EVERY_BIDI_CONTROL = {
    "\u061c": "ARABIC LETTER MARK",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}


def test_the_bidi_controls_are_every_bidi_control_of_unicode():
    assert all(unicodedata.name(c) == name for c, name in EVERY_BIDI_CONTROL.items())
    assert set(BIDI_CONTROLS) == set(EVERY_BIDI_CONTROL)


@pytest.mark.parametrize("mark", list(EVERY_BIDI_CONTROL), ids=list(EVERY_BIDI_CONTROL.values()))
@pytest.mark.parametrize("where", ["start", "inside", "end", "alone"])
def test_each_bidi_control_is_refused_wherever_it_is(mark, where):
    value = {"start": mark + "Ann", "inside": "An" + mark + "n", "end": "Ann" + mark,
             "alone": mark}[where]
    assert has_control_characters(value)
    with pytest.raises(ValidationError) as raised:
        refuse_control_characters(value)
    assert raised.value.code == "control_characters"


@pytest.mark.parametrize("text", [
    "Ann", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",  # Hebrew, Arabic
    "Z\u00fcrich", "\u200dzero-width joiner", "\u00adsoft hyphen",
])
def test_right_to_left_letters_and_other_format_characters_are_not_controls(text):
    assert not has_control_characters(text)
    refuse_control_characters(text)


@pytest.mark.parametrize(("value", "message"), [
    ("Ann\u200fLee", "Remove the control character U+200F (RIGHT-TO-LEFT MARK)."),
    ("\u061cAnn", "Remove the control character U+061C (ARABIC LETTER MARK)."),
    # C0 and C1 controls and DEL have no name of their own: their code point alone.
    ("Ann\x01", "Remove the control character U+0001."),
    ("Ann\x7f", "Remove the control character U+007F."),
    ("An\x85n", "Remove the control character U+0085."),
    # Each character once, in the order typed.
    ("\u202eAnn\x1b[31m\u202e\t", "Remove the control characters U+202E (RIGHT-TO-LEFT "
                                   "OVERRIDE), U+001B, U+0009."),
    # At most three named, the rest counted.
    ("\x01\x02\x03\u2066", "Remove the control characters U+0001, U+0002, U+0003 and 1 other."),
    ("\x01\x02\x03\x04\x05", "Remove the control characters U+0001, U+0002, U+0003 and 2 others."),
])
def test_the_error_names_the_control_characters(value, message):
    assert control_characters_message(value) == message
    with pytest.raises(ValidationError) as raised:
        refuse_control_characters(value)
    assert raised.value.messages == [message]
    assert raised.value.code == "control_characters"


def test_the_error_never_holds_the_character_itself():
    every = "".join(EVERY_BIDI_CONTROL) + "".join(map(chr, [*range(32), *range(127, 160)]))
    for c in every:
        assert control_characters_message("Ann" + c).isascii()
