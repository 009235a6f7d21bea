"""How a typed code is read (mfa.codes): any script's decimal digits as the digits they are,
recovery codes in NFKC and case folded, and numbers that are no decimal digits refused."""

from __future__ import annotations

import pytest

from mfa.codes import RECOVERY_CODE, TOTP, Code, read
from tests.mfa.support import CIRCLED, DIGIT_FAMILIES, SUPERSCRIPTS, fullwidth, in_digits

FAMILIES = list(DIGIT_FAMILIES)
SHOWN = "4k2m-9x7q-h3vd-0a1b-5c6e-8f9g"  # a recovery code as the page shows it
SPELLED = SHOWN.replace("-", "")


@pytest.mark.parametrize("family", FAMILIES)
def test_an_apps_code_in_any_decimal_digits_reads_as_ascii(family):
    assert read(in_digits("012345", DIGIT_FAMILIES[family])) == Code(TOTP, "012345")


def test_digits_of_several_scripts_in_one_code():
    fullwidth_, arabic, persian = DIGIT_FAMILIES.values()
    mixed = fullwidth_[1] + arabic[2] + persian[3] + "4" + arabic[5] + fullwidth_[6]
    assert read(mixed) == Code(TOTP, "123456")


@pytest.mark.parametrize("typed", [" 123 456 ", "123\u3000456", "\uff11\uff12\uff13 456"])
def test_spaces_inside_an_apps_code_are_dropped(typed):
    # U+3000, the ideographic space, is what a CJK input mode types for the space bar.
    assert read(typed) == Code(TOTP, "123456")


def test_the_length_is_the_digits_setting(settings):
    settings.AUTHSUITE_MFA_TOTP_DIGITS = 8
    assert read(in_digits("12345678", DIGIT_FAMILIES["arabic-indic"])) == Code(TOTP, "12345678")
    assert read(in_digits("123456", DIGIT_FAMILIES["arabic-indic"])).method == RECOVERY_CODE


@pytest.mark.parametrize("numbers", [SUPERSCRIPTS, CIRCLED], ids=["superscripts", "circled"])
def test_numbers_that_are_no_decimal_digits_are_no_code(numbers):
    # NFKC would make "123456" of both: read so, a code from a screenshot's footnote marks
    # would pass.
    assert read(in_digits("123456", numbers)) == Code(RECOVERY_CODE, "")


@pytest.mark.parametrize("typed", ["12345\u00bd", "\u216b3456", "123\u00b2456"])
def test_one_such_number_is_enough(typed):
    """A fraction, a Roman numeral (Nl), a superscript among ASCII digits."""
    assert read(typed) == Code(RECOVERY_CODE, "")


@pytest.mark.parametrize("typed", [
    "12345", "1234567", "12345a", "123-456", "-12345", "+12345", "1e5000", "123.456",
    "1\u03012\u03013\u0301456", "", None,
])
def test_anything_else_is_no_apps_code(typed):
    assert read(typed).method == RECOVERY_CODE


@pytest.mark.parametrize("typed", [
    SHOWN, SHOWN.upper(), SPELLED, f"  {SHOWN.replace('-', ' ')}  ", fullwidth(SHOWN),
    fullwidth(SHOWN.upper()), SHOWN.replace("-", "\uff0d"),
    *(in_digits(SHOWN, digits) for digits in DIGIT_FAMILIES.values()),
    SHOWN.replace("0", "o").replace("1", "l"),  # look-alikes read off paper
])
def test_every_spelling_of_a_recovery_code_reads_the_same(typed):
    assert read(typed) == Code(RECOVERY_CODE, SPELLED)


def test_a_recovery_code_with_a_superscript_is_no_code():
    assert read(SHOWN.replace("2", "\u00b2")) == Code(RECOVERY_CODE, "")
