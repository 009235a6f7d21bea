"""TOTP (RFC 6238): the test vectors, the 6-digit/30-second defaults, drift, replay and keys
encrypted at rest."""

from __future__ import annotations

import base64

import pyotp
import pytest
from django.db import connection
from django.urls import reverse

from mfa import totp
from mfa.models import TOTPDevice
from tests.mfa.support import (
    CIRCLED,
    DIGIT_FAMILIES,
    START,
    SUPERSCRIPTS,
    Clock,
    enroll,
    in_digits,
)

pytestmark = pytest.mark.django_db

RFC_KEY = b"12345678901234567890"  # RFC 6238 Appendix B, SHA-1
RFC_VECTORS = [  # (Unix time, 8-digit TOTP)
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def rfc_device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="rfc", confirmed=True,
                                     sealed_key=totp.seal_key(RFC_KEY))


def b32(key: bytes) -> str:
    return base64.b32encode(key).decode()


@pytest.mark.parametrize(("at", "code"), RFC_VECTORS)
def test_pyotp_reproduces_the_rfc_vectors(at, code):
    # pyotp is the independent reference every other test computes codes with.
    assert pyotp.TOTP(b32(RFC_KEY), digits=8).at(at) == code


@pytest.mark.parametrize(("at", "code"), RFC_VECTORS)
def test_our_totp_matches_the_rfc_vectors(settings, monkeypatch, user, at, code):
    settings.AUTHSUITE_MFA_TOTP_DIGITS = 8
    monkeypatch.setattr(totp, "now", lambda: float(at))
    device = rfc_device(user)
    assert totp.matching_step(device, code) == at // 30
    assert totp.verify(device, code)
    device.refresh_from_db()
    assert device.last_t == at // 30


@pytest.mark.parametrize(("at", "_"), RFC_VECTORS)
def test_six_digit_codes_from_pyotp_at_the_rfc_times(monkeypatch, user, at, _):
    monkeypatch.setattr(totp, "now", lambda: float(at))
    device = rfc_device(user)
    code = pyotp.TOTP(b32(RFC_KEY)).at(at)
    assert len(code) == 6
    assert totp.verify(device, code)


def test_defaults_are_six_digits_and_thirty_seconds(user):
    device = TOTPDevice.objects.create(user=user, name="x", sealed_key=totp.seal_key(RFC_KEY))
    uri = totp.otpauth_uri(device, user.email)
    assert "digits=6" in uri and "period=30" in uri and "algorithm=SHA1" in uri
    parsed = pyotp.parse_uri(uri)
    assert parsed.digits == 6 and parsed.interval == 30
    assert parsed.secret == b32(RFC_KEY).rstrip("=")


def test_a_code_changes_every_thirty_seconds(monkeypatch, user):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    code = clock.code(secret)
    clock.t += 29  # still the same step
    assert totp.matching_step(device, code) == START // 30
    clock.t += 1
    assert clock.code(secret) != code  # a new step, a new code


# --- drift: AUTHSUITE_MFA_TOTP_TOLERANCE ----------------------------------------------------


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, False), (0, True),
                                                  (1, False), (2, False)])
def test_by_default_only_the_current_step_is_accepted(monkeypatch, user, offset, accepted):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert totp.verify(device, clock.code(secret, offset)) is accepted


@pytest.mark.parametrize(("tolerance", "first", "last"), [(0, 0, 25), (1, -30, 55)])
def test_how_long_a_code_is_usable(settings, monkeypatch, user, tolerance, first, last):
    """By default a code works during its own step only, 30 s at most (ASVS 5.0 6.5.5);
    with a tolerance of 1 also in the steps either side, 90 s at most."""
    settings.AUTHSUITE_MFA_TOTP_TOLERANCE = tolerance
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    code = clock.code(secret)
    seconds = []
    for elapsed in range(-60, 121, 5):
        clock.t = START + elapsed
        if totp.matching_step(device, code) is not None:
            seconds.append(elapsed)
    assert (seconds[0], seconds[-1]) == (first, last)
    assert seconds[-1] - seconds[0] + 5 == 30 * (2 * tolerance + 1)


@pytest.mark.parametrize(("tolerance", "offset", "accepted"), [
    (0, 0, True), (0, -1, False), (0, 1, False), (2, -2, True), (2, 2, True), (2, 3, False),
])
def test_tolerance_setting(settings, monkeypatch, user, tolerance, offset, accepted):
    settings.AUTHSUITE_MFA_TOTP_TOLERANCE = tolerance
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert totp.verify(device, clock.code(secret, offset)) is accepted


def test_digits_and_step_settings(settings, monkeypatch, user):
    settings.AUTHSUITE_MFA_TOTP_DIGITS = 8
    settings.AUTHSUITE_MFA_TOTP_STEP = 60
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert totp.verify(device, pyotp.TOTP(secret, digits=8, interval=60).at(clock.t))
    uri = totp.otpauth_uri(device, user.email)
    assert "digits=8" in uri and "period=60" in uri


# --- replay ---------------------------------------------------------------------------------


def test_a_code_is_accepted_once(monkeypatch, user):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    code = clock.code(secret)
    assert totp.verify(device, code)
    assert not totp.verify(device, code)
    assert not totp.verify(TOTPDevice.objects.get(pk=device.pk), code)  # a fresh instance too


@pytest.mark.parametrize("family", list(DIGIT_FAMILIES))
def test_a_code_typed_again_in_other_digits_is_a_replay(monkeypatch, user, family):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    code = clock.code(secret)
    assert device.verify_token(code)
    assert not device.verify_token(in_digits(code, DIGIT_FAMILIES[family]))
    assert device.last_t == int(clock.t) // 30


def test_an_older_code_is_refused_after_a_newer_one(settings, monkeypatch, user):
    settings.AUTHSUITE_MFA_TOTP_TOLERANCE = 1  # both within reach: a clock that drifts
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    older = clock.code(secret, -1)
    assert totp.verify(device, clock.code(secret, 1))
    assert not totp.verify(device, older)
    assert not totp.verify(device, clock.code(secret))


def test_the_next_steps_code_works_after_a_used_one(monkeypatch, user):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert totp.verify(device, clock.code(secret))
    clock.step()
    assert totp.verify(device, clock.code(secret))


def test_replay_through_the_challenge_page(client, monkeypatch, user, password):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user)
    code = clock.code(secret)
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert client.post(reverse("mfa:challenge"), {"code": code}).status_code == 302
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    response = client.post(reverse("mfa:challenge"), {"code": code})
    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- malformed codes ------------------------------------------------------------------------


@pytest.mark.parametrize("token", [
    "", None, "12345", "1234567", "12345a", "abcdef", "123\x00456", "-12345", "+12345",
    "1e5000", "123-456", 123456,
])
def test_malformed_tokens_never_match(monkeypatch, user, token):
    Clock(monkeypatch)
    enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert not device.verify_token(token)
    assert device.last_t == -1


@pytest.mark.parametrize("spelling", [
    lambda c: in_digits(c, DIGIT_FAMILIES["fullwidth"]),
    lambda c: in_digits(c, DIGIT_FAMILIES["arabic-indic"]), lambda c: f" {c}",
])
def test_only_the_read_spelling_is_compared(monkeypatch, user, spelling):
    """Below mfa.codes.read, a code is ASCII digits and nothing else: no other spelling of
    one is compared, so none can reach the check unread and pass."""
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    typed = spelling(clock.code(secret))
    assert totp.matching_step(device, typed) is None
    assert not totp.verify(device, typed)


@pytest.mark.parametrize("family", [*DIGIT_FAMILIES, "mixed"])
def test_the_right_code_in_any_decimal_digits_matches(monkeypatch, user, family):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    code = clock.code(secret)
    if family == "mixed":
        digits = list(DIGIT_FAMILIES.values())
        typed = "".join(digits[i % 3][int(c)] for i, c in enumerate(code))
    else:
        typed = in_digits(code, DIGIT_FAMILIES[family])
    assert typed != code
    assert TOTPDevice.objects.get(user=user).verify_token(typed)


@pytest.mark.parametrize("numbers", [SUPERSCRIPTS, CIRCLED], ids=["superscripts", "circled"])
def test_the_right_code_in_numbers_that_are_no_digits_never_matches(monkeypatch, user,
                                                                     numbers):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    assert not device.verify_token(in_digits(clock.code(secret), numbers))
    assert device.last_t == -1


def test_spaces_inside_a_code_are_ignored(monkeypatch, user):
    clock = Clock(monkeypatch)
    secret, _ = enroll(user, codes=False)
    code = clock.code(secret)
    assert TOTPDevice.objects.get(user=user).verify_token(f" {code[:3]} {code[3:]} ")


# --- keys at rest ---------------------------------------------------------------------------


def test_the_key_is_never_stored_in_clear(monkeypatch, user):
    secret, _ = enroll(user, codes=False)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM mfa_totpdevice")
        rows = cursor.fetchall()
    dump = repr(rows)
    for form in (secret, secret.lower(), key.hex(), key.hex().upper(),
                 base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()):
        assert form not in dump
    assert totp.device_key(TOTPDevice.objects.get(user=user)) == key


def test_two_devices_with_one_key_store_different_ciphertexts(user):
    key = totp.new_key()
    assert totp.seal_key(key) != totp.seal_key(key)


def test_keys_are_160_random_bits(user):
    keys = {totp.new_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) == 20 for k in keys)


def test_the_encryption_key_setting_is_used(settings, user):
    secret, _ = enroll(user, codes=False)
    device = TOTPDevice.objects.get(user=user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = "another key entirely " * 3
    with pytest.raises(totp.KeyUnreadable):
        totp.device_key(device)
    sealed = totp.seal_key(b"k" * 20)
    assert totp.device_key(TOTPDevice(sealed_key=sealed)) == b"k" * 20
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    with pytest.raises(totp.KeyUnreadable):
        totp.device_key(TOTPDevice(sealed_key=sealed))


def test_the_issuer_setting(settings, user):
    settings.AUTHSUITE_MFA_ISSUER = "Example: Corp"
    device = TOTPDevice.objects.create(user=user, name="x", sealed_key=totp.seal_key(RFC_KEY))
    uri = totp.otpauth_uri(device, user.email)
    assert uri.startswith(f"otpauth://totp/Example%3A%20Corp:{user.email}?")
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "Example: Corp" and parsed.name == user.email


# --- django-otp's Device contract -----------------------------------------------------------


def test_django_otp_finds_and_verifies_our_devices(monkeypatch, user):
    import django_otp

    clock = Clock(monkeypatch)
    secret, codes = enroll(user)
    found = {type(d).__name__ for d in django_otp.devices_for_user(user)}
    assert found == {"TOTPDevice", "RecoveryCodeSet"}
    assert django_otp.user_has_device(user)
    device = django_otp.match_token(user, clock.code(secret))
    assert isinstance(device, TOTPDevice)
    assert django_otp.match_token(user, clock.code(secret)) is None  # replay
    recovered = django_otp.match_token(user, codes[0])
    assert type(recovered).__name__ == "RecoveryCodeSet"
    assert django_otp.match_token(user, codes[0]) is None
    assert device.persistent_id.startswith("mfa.totpdevice/")


def test_unconfirmed_devices_do_not_count(user):
    import django_otp

    TOTPDevice.objects.create(user=user, name="pending", confirmed=False,
                              sealed_key=totp.seal_key(RFC_KEY))
    assert not django_otp.user_has_device(user)
    assert django_otp.user_has_device(user, confirmed=False)
