"""Codes typed with any script's decimal digits, wherever a code is taken: the sign-in's
second-factor stage, the step-up of a signed-in user, turning an app on (signed in, and as
the sign-in's enrollment) and recovery codes, on the pages and over the API.

A phone in a CJK input mode sends full-width digits, an Arabic or Persian keyboard
Arabic-Indic ones: the code is the digits they are, not a wrong code that costs an attempt.
Numbers that are no decimal digits (superscripts, circled digits) stay refused, and a code
used once is a replay whichever digits it is typed in again.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audit.models import Event
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice
from tests.mfa.support import (
    CIRCLED,
    DIGIT_FAMILIES,
    SUPERSCRIPTS,
    api_post,
    begin_setup,
    enroll,
    error_code,
    fullwidth,
    in_digits,
    login,
    page_secret,
    record,
    sign_in_fully,
)

pytestmark = pytest.mark.django_db

ENTRIES = ["challenge", "step_up", "activate", "enroll"]
VIAS = ["page", "api"]
PAGES = {"challenge": "mfa:challenge", "step_up": "mfa:challenge", "activate": "mfa:totp_setup",
         "enroll": "mfa:enroll"}
PATHS = {"challenge": "mfa/challenge/", "step_up": "mfa/challenge/",
         "activate": "mfa/totp/activate/", "enroll": "mfa/totp/activate/"}
FAMILIES = [*DIGIT_FAMILIES, "mixed"]
NOT_DIGITS = {"superscripts": SUPERSCRIPTS, "circled": CIRCLED}


def spelled(code: str, family: str) -> str:
    """``code`` typed with the digits of ``family``; ``"mixed"``: one script after another."""
    if family == "ascii":
        return code
    if family == "mixed":
        scripts = list(DIGIT_FAMILIES.values())
        return "".join(scripts[i % len(scripts)][int(c)] for i, c in enumerate(code))
    return in_digits(code, DIGIT_FAMILIES[family])


def arrive(entry: str, client, user, password, clock, settings) -> str:
    """Bring ``client`` to where ``entry`` takes a code; returns the key of the app whose
    codes it takes."""
    if entry == "enroll":
        settings.AUTHSUITE_MFA_REQUIRED = "everyone"
        assert login(client, user, password)["Location"] == reverse("mfa:enroll")
        return page_secret(begin_setup(client, reverse("mfa:enroll")).content)
    if entry == "activate":
        login(client, user, password)
        return page_secret(begin_setup(client).content)
    secret, _ = enroll(user)
    if entry == "step_up":
        sign_in_fully(client, user, password, clock, secret)
        clock.step()  # a code of its own, newer than the sign-in's
    else:
        assert login(client, user, password)["Location"] == reverse("mfa:challenge")
    return secret


def send(client, entry: str, via: str, code: str):
    if via == "page":
        return client.post(reverse(PAGES[entry]), {"code": code})
    return api_post(client, PATHS[entry], {"code": code})


def assert_refused(response, via: str) -> None:
    if via == "page":
        assert response.status_code == 200
        assert "That code is not valid." in response.content.decode()
    else:
        assert response.status_code == 400 and error_code(response) == "mfa_code_invalid"
        assert "code" in response.json()["error"]["fields"]


def failed_methods() -> list[str]:
    return [json.loads(e.data)["method"]
            for e in Event.objects.filter(action="mfa.challenge.failed").order_by("pk")]


def proven(user, clock) -> bool:
    """Whether the app's code of this time step was accepted."""
    return TOTPDevice.objects.filter(user=user, confirmed=True,
                                     last_t=int(clock.t) // 30).exists()


# --- an app's code --------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_code_in_any_decimal_digits_is_accepted(client, user, password, clock, settings,
                                                  entry, via, family):
    secret = arrive(entry, client, user, password, clock, settings)

    response = send(client, entry, via, spelled(clock.code(secret), family))

    assert response.status_code in (200, 302), response.content[:300]
    assert proven(user, clock)
    assert "otp" in record(client)["amr"]
    # Not a wrong code first: no attempt counted towards the back-off or the lock.
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == 0
    assert failed_methods() == []


@pytest.mark.parametrize("numbers", list(NOT_DIGITS))
@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_code_in_numbers_that_are_no_digits_is_refused(client, user, password, clock,
                                                         settings, entry, via, numbers):
    secret = arrive(entry, client, user, password, clock, settings)
    before = record(client)

    response = send(client, entry, via, in_digits(clock.code(secret), NOT_DIGITS[numbers]))

    assert_refused(response, via)
    assert not proven(user, clock)
    assert record(client) == before


REPLAYS = [("ascii", "fullwidth"), ("fullwidth", "arabic-indic"),
           ("arabic-indic", "eastern-arabic-indic"), ("eastern-arabic-indic", "ascii"),
           ("mixed", "ascii")]


@pytest.mark.parametrize(("first", "again"), REPLAYS)
@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_used_code_typed_again_in_other_digits_is_a_replay(client, user, password, clock,
                                                             settings, entry, via, first,
                                                             again):
    secret = arrive(entry, client, user, password, clock, settings)
    code = clock.code(secret)
    send(client, entry, via, spelled(code, first))
    assert proven(user, clock)
    if entry == "challenge":  # another sign-in
        client.post(reverse("accounts:logout"))
        login(client, user, password)
    # else: signed in now, by the code, so a code is taken again at the step-up
    before = record(client)

    response = send(client, "challenge" if entry == "challenge" else "step_up", via,
                    spelled(code, again))

    assert_refused(response, via)
    assert record(client) == before
    # Read as the app's code it is, and refused as used: not as text that is no code.
    assert failed_methods() == ["totp"]


# --- recovery codes -------------------------------------------------------------------------


def send_recovery(client, via: str, code: str):
    if via == "page":  # the page's own form for recovery codes
        return client.post(reverse("mfa:challenge"), {"kind": "recovery", "code": code})
    return api_post(client, "mfa/challenge/", {"code": code})


RECOVERY_SPELLINGS = {
    "fullwidth": fullwidth,
    "fullwidth-capitals": lambda code: fullwidth(code.upper()),
    **{family: (lambda code, digits=digits: in_digits(code, digits))
       for family, digits in DIGIT_FAMILIES.items()},
}


@pytest.fixture
def recovery_code(client, user, password) -> str:
    """A sign-in waiting at the challenge; one of the account's recovery codes with a digit
    in it."""
    _, codes = enroll(user)
    assert login(client, user, password)["Location"] == reverse("mfa:challenge")
    return next(code for code in codes if any(c.isdigit() for c in code))


@pytest.mark.parametrize("spelling", list(RECOVERY_SPELLINGS))
@pytest.mark.parametrize("via", VIAS)
def test_a_recovery_code_in_any_digits_signs_in(client, user, recovery_code, via, spelling):
    response = send_recovery(client, via, RECOVERY_SPELLINGS[spelling](recovery_code))

    assert response.status_code in (200, 302), response.content[:300]
    assert "otp" in record(client)["amr"]
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1
    assert RecoveryCodeSet.objects.get(user=user).throttling_failure_count == 0
    assert failed_methods() == []


@pytest.mark.parametrize("via", VIAS)
def test_a_recovery_code_in_superscript_digits_is_refused(client, recovery_code, via):
    response = send_recovery(client, via, in_digits(recovery_code, SUPERSCRIPTS))

    assert_refused(response, via)
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()
    assert record(client) is None


@pytest.mark.parametrize("family", list(DIGIT_FAMILIES))
@pytest.mark.parametrize("via", VIAS)
def test_a_used_recovery_code_typed_again_in_other_digits_is_used_already(
        client, user, password, recovery_code, via, family):
    send_recovery(client, via, recovery_code)
    client.post(reverse("accounts:logout"))
    login(client, user, password)

    response = send_recovery(client, via, in_digits(recovery_code, DIGIT_FAMILIES[family]))

    assert_refused(response, via)
    assert record(client) is None
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1
    assert failed_methods() == ["recovery_code"]
