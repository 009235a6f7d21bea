"""Recovery codes: 120 bits each from the CSPRNG (at least the 112 bits that a keyed hash may
store), shown once, stored only as keyed hashes, single use."""

from __future__ import annotations

import math
import re
import secrets

import pytest
from django.db import connection

from mfa import recovery
from mfa.models import RecoveryCode, RecoveryCodeSet
from tests.mfa.support import DIGIT_FAMILIES, SUPERSCRIPTS, enroll, fullwidth, in_digits

pytestmark = pytest.mark.django_db

FORMAT = re.compile(r"^[0-9a-z]{4}(-[0-9a-z]{4}){5}$")


def test_a_set_is_ten_codes_of_120_bits(user):
    codes = recovery.generate(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(FORMAT.match(code) for code in codes)
    assert len(recovery.ALPHABET) == len(set(recovery.ALPHABET)) == 32
    bits = recovery.CODE_CHARS * math.log2(len(recovery.ALPHABET))
    assert bits == recovery.BITS_PER_CODE == 120
    assert bits >= 112  # SP 800-63B-4: a look-up secret stored with a keyed hash


def test_a_code_of_a_set_made_before_codes_were_longer_still_works(user):
    earlier = "abcd" * 3
    device = RecoveryCodeSet.objects.create(user=user, name="Recovery codes")
    RecoveryCode.objects.create(device=device, digest=recovery._digest(earlier))

    assert device.verify_token("abcd-abcd-abcd")
    assert not device.verify_token("abcd-abcd-abcd")


def test_the_alphabet_has_no_look_alikes():
    assert not set("ilou") & set(recovery.ALPHABET)


def test_codes_come_from_the_csprng(user, monkeypatch):
    calls = []
    real = secrets.choice

    def spy(alphabet):
        calls.append(alphabet)
        return real(alphabet)

    monkeypatch.setattr(recovery.secrets, "choice", spy)
    recovery.generate(user)
    assert len(calls) == 10 * recovery.CODE_CHARS
    assert set(calls) == {recovery.ALPHABET}


def test_every_character_is_used(user):
    seen = set()
    for _ in range(20):
        seen |= set("".join(recovery.generate(user)).replace("-", ""))
    assert seen == set(recovery.ALPHABET)


def test_the_count_is_a_setting(settings, user):
    settings.AUTHSUITE_MFA_RECOVERY_CODES = 16
    assert len(recovery.generate(user)) == 16
    assert RecoveryCode.objects.count() == 16


def test_codes_are_stored_only_as_keyed_hashes(user):
    codes = recovery.generate(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mfa_recoverycode")
        dump = repr(cursor.fetchall())
    for code in codes:
        for form in (code, code.replace("-", ""), code.upper(), code.replace("-", "").upper()):
            assert form not in dump
    digests = list(RecoveryCode.objects.values_list("digest", flat=True))
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
    # Keyed: a plain SHA-256 of the code is not what is stored.
    import hashlib

    plain = hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest()
    assert plain not in digests


def test_a_code_works_once(user):
    _, codes = enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    spelled = codes[0].replace("-", "")
    assert recovery.consume(device, spelled) is not None
    assert recovery.consume(device, spelled) is None
    assert device.remaining() == 9


@pytest.mark.parametrize("family", list(DIGIT_FAMILIES))
def test_a_code_typed_again_in_other_digits_is_used_already(user, family):
    _, codes = enroll(user)
    code = next(c for c in codes if any(ch.isdigit() for ch in c))
    device = RecoveryCodeSet.objects.get(user=user)
    assert device.verify_token(code)
    assert not device.verify_token(in_digits(code, DIGIT_FAMILIES[family]))
    assert device.remaining() == 9


def test_only_the_read_spelling_is_compared(user):
    """Below mfa.codes.read, a code is lowercase, without separators: no other spelling of
    one is compared, so none can reach the check unread and pass."""
    _, codes = enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    for spelling in (codes[0], codes[0].upper(), fullwidth(codes[0])):
        assert recovery.consume(device, spelling) is None
    assert device.remaining() == 10


@pytest.mark.parametrize("typed", [
    lambda c: c.upper(), lambda c: c.replace("-", ""), lambda c: f"  {c}  ",
    lambda c: c.replace("-", " "),
    lambda c: c.replace("0", "o").replace("1", "l"),  # look-alikes read off paper
    fullwidth, lambda c: fullwidth(c.upper()),  # a phone's full-width input
    *(lambda c, d=digits: in_digits(c, d) for digits in DIGIT_FAMILIES.values()),
])
def test_how_a_code_is_typed_does_not_matter(user, typed):
    _, codes = enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert device.verify_token(typed(codes[0]))
    assert device.remaining() == 9


@pytest.mark.parametrize("bad", [None, "", "x", 123456, "0" * 11, "0" * 13, "\u00b9" * 12,
                                 "!!!!-!!!!-!!!!", "zzzz-zzzz-zzz\x00", "\U0001f4a9" * 12])
def test_malformed_codes_never_match(user, bad):
    enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert not device.verify_token(bad)
    assert device.remaining() == 10


def test_a_code_with_its_digits_in_superscript_never_matches(user):
    _, codes = enroll(user)
    code = next(c for c in codes if any(ch.isdigit() for ch in c))
    device = RecoveryCodeSet.objects.get(user=user)
    assert not device.verify_token(in_digits(code, SUPERSCRIPTS))
    assert device.remaining() == 10


def test_new_codes_replace_the_old_ones(user):
    old = recovery.generate(user)
    new = recovery.generate(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert RecoveryCodeSet.objects.filter(user=user).count() == 1
    assert not device.verify_token(old[0])
    assert device.verify_token(new[0])


def test_a_code_only_works_for_its_own_user(user, staff):
    _, codes = enroll(user)
    enroll(staff)
    assert not RecoveryCodeSet.objects.get(user=staff).verify_token(codes[0])
    assert RecoveryCodeSet.objects.get(user=user).remaining() == 10
