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
from tests.mfa.support import enroll

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

    assert recovery.consume(device, "abcd-abcd-abcd") is not None
    assert recovery.consume(device, "abcd-abcd-abcd") is None


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
    assert recovery.consume(device, codes[0]) is not None
    assert recovery.consume(device, codes[0]) is None
    assert device.remaining() == 9


@pytest.mark.parametrize("typed", [
    lambda c: c.upper(), lambda c: c.replace("-", ""), lambda c: f"  {c}  ",
    lambda c: c.replace("-", " "),
    lambda c: c.replace("0", "o").replace("1", "l"),  # look-alikes read off paper
])
def test_how_a_code_is_typed_does_not_matter(user, typed):
    _, codes = enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert recovery.consume(device, typed(codes[0])) is not None


@pytest.mark.parametrize("bad", [None, "", "x", 123456, "0" * 11, "0" * 13, "\u0661" * 12,
                                 "!!!!-!!!!-!!!!", "zzzz-zzzz-zzz\x00", "\U0001f4a9" * 12])
def test_malformed_codes_never_match(user, bad):
    enroll(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert recovery.consume(device, bad) is None
    assert device.remaining() == 10


def test_new_codes_replace_the_old_ones(user):
    old = recovery.generate(user)
    new = recovery.generate(user)
    device = RecoveryCodeSet.objects.get(user=user)
    assert RecoveryCodeSet.objects.filter(user=user).count() == 1
    assert recovery.consume(device, old[0]) is None
    assert recovery.consume(device, new[0]) is not None


def test_a_code_only_works_for_its_own_user(user, staff):
    _, codes = enroll(user)
    enroll(staff)
    assert recovery.consume(RecoveryCodeSet.objects.get(user=staff), codes[0]) is None
    assert RecoveryCodeSet.objects.get(user=user).remaining() == 10
