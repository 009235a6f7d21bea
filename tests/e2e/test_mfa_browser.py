"""Two-step verification in Chromium: enroll an authenticator app from the key on the page,
save the recovery codes, then sign in with a TOTP code and with a recovery code.

Codes are computed with pyotp from the key the page shows, and typed as people type them:
in ASCII digits, or in the full-width digits a phone in a CJK input mode sends. The suite's TOTP clock is held
by the test (the live server runs in this process), so the second sign-in uses the next
time step instead of waiting for it: the code used at enrollment is refused for good.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest

from mfa.models import RecoveryCode, TOTPDevice
from tests.mfa.support import Clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
#: ASCII digits to full-width ones (U+FF10..U+FF19): "123456" is "１２３４５６".
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page) -> None:
    page.locator("header.site").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def test_enroll_then_sign_in_with_totp_and_with_a_recovery_code(page, console, user, password,
                                                                 monkeypatch, tmp_path):
    clock = Clock(monkeypatch, start=time.time())

    # Signed in with the password alone: no factor yet.
    sign_in(page, user.email, password)
    page.wait_for_url("**/accounts/")

    # Enroll: opening the page begins nothing; its button makes the key, and the page then
    # shows an inline SVG QR code and the key for manual entry.
    page.goto("/mfa/")
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url("**/mfa/totp/setup/")
    assert page.locator(".qr svg").count() == 0
    assert not TOTPDevice.objects.filter(user=user).exists()
    page.get_by_role("button", name="Start setup").click()
    page.wait_for_url("**/mfa/totp/setup/")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    code_field = page.get_by_label("Code from the app")
    assert code_field.get_attribute("autocomplete") == "one-time-code"
    assert code_field.get_attribute("inputmode") == "numeric"

    # A wrong code first: a clear error, nothing turned on.
    code_field.fill(pyotp.TOTP(secret).at(clock.t + 300))
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_load_state()
    assert "That code is not valid." in page.locator(".field .error").inner_text()
    assert not TOTPDevice.objects.get(user=user).confirmed

    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(clock.t))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()

    # Save the recovery codes: read them, and download the text file the page offers.
    codes = [c.strip() for c in page.locator("#recovery-codes code").all_inner_texts()]
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-z]{4}(-[0-9a-z]{4}){5}", c) for c in codes)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as a text file").click()
    download = info.value
    assert download.suggested_filename == "recovery-codes.txt"
    saved = tmp_path / "recovery-codes.txt"
    download.save_as(saved)
    assert Path(saved).read_text().split() == codes
    page.get_by_role("link", name="I saved them, continue").click()
    page.wait_for_url("**/mfa/")
    assert "On" in page.locator("main").inner_text()
    sign_out(page)

    # Sign in with the password, then a TOTP code from the next time step.
    sign_in(page, user.email, password)
    page.wait_for_url("**/mfa/challenge/")
    page.goto("/accounts/")
    page.wait_for_url("**/accounts/login/?next=/accounts/")  # not signed in before the code
    page.goto("/mfa/challenge/")  # the sign-in still waits there
    clock.step()
    field = page.get_by_label("Code", exact=True)
    assert field.get_attribute("autocomplete") == "one-time-code"
    assert field.get_attribute("inputmode") == "numeric"
    field.fill(pyotp.TOTP(secret).at(clock.t))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {user.email}" in page.locator("main").inner_text()
    sign_out(page)

    # Sign in with the password, then one of the saved recovery codes.
    sign_in(page, user.email, password)
    page.wait_for_url("**/mfa/challenge/")
    page.get_by_text("Use a recovery code instead").click()
    recovery_field = page.get_by_label("Recovery code")
    assert recovery_field.get_attribute("inputmode") == "text"
    recovery_field.fill(codes[0].upper())  # typed the way people copy from paper
    page.get_by_role("button", name="Use this recovery code").click()
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {user.email}" in page.locator("main").inner_text()
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1

    # The overview shows the factor and what is left.
    page.goto("/mfa/")
    assert "9 unused codes left" in page.locator("main").inner_text()
    assert console.csp_violations() == []


def test_a_code_typed_in_full_width_digits_turns_on_the_app_and_signs_in(
        page, console, user, password, monkeypatch):
    """The setup page's own check (its pattern) lets full-width digits through, and the
    server reads them as the code, at setup and at sign-in."""
    clock = Clock(monkeypatch, start=time.time())
    sign_in(page, user.email, password)
    page.wait_for_url("**/accounts/")

    page.goto("/mfa/totp/setup/")
    page.get_by_role("button", name="Start setup").click()
    page.wait_for_url("**/mfa/totp/setup/")
    secret = page.locator("#totp-secret").inner_text().strip()
    field = page.get_by_label("Code from the app")
    typed = pyotp.TOTP(secret).at(clock.t).translate(FULL_WIDTH)
    assert not typed.isascii()
    field.press_sequentially(typed)
    assert field.input_value() == typed
    assert field.evaluate("field => field.validity.valid")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    assert TOTPDevice.objects.get(user=user).confirmed
    page.get_by_role("link", name="I saved them, continue").click()
    page.wait_for_url("**/mfa/")
    sign_out(page)

    # The next time step: the code used at setup is refused for good.
    sign_in(page, user.email, password)
    page.wait_for_url("**/mfa/challenge/")
    clock.step()
    page.get_by_label("Code", exact=True).press_sequentially(
        pyotp.TOTP(secret).at(clock.t).translate(FULL_WIDTH))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {user.email}" in page.locator("main").inner_text()
    session = page.request.get("/api/auth/v1/session/").json()
    assert session["auth"]["amr"] == ["mfa", "otp", "pwd"]
    assert console.csp_violations() == []
