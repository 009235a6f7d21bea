"""The factor pages: enrolling an authenticator app, removing it, regenerating recovery codes
and the overview at /mfa/ — each change behind reauthentication, each one alerting the user."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pyotp
import pytest
import segno
from django.core import mail
from django.test import Client
from django.urls import reverse

from mfa import devices, recovery, totp
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice, TrustedBrowser
from tests.mfa.support import (
    AUTH_KEY,
    DIGIT_FAMILIES,
    SUPERSCRIPTS,
    begin_setup,
    enroll,
    in_digits,
    login,
    page_codes,
    page_secret,
    record,
    sign_in_fully,
    step_up,
    subjects,
)

pytestmark = pytest.mark.django_db

SETUP = reverse("mfa:totp_setup")
REMOVE = reverse("mfa:totp_remove")
CODES = reverse("mfa:recovery_codes")
INDEX = reverse("mfa:index")


@pytest.fixture
def signed_in(client, user, password):
    """A password sign-in moments ago: reauthentication is not due."""
    response = login(client, user, password)
    assert response.status_code == 302 and AUTH_KEY in client.session
    mail.outbox.clear()
    return client


def stale(client) -> None:
    session = client.session
    session["_authsuite_auth"] = {**session["_authsuite_auth"], "auth_time": 1}
    session.save()


# --- enrollment -----------------------------------------------------------------------------


def test_setup_needs_a_signed_in_user(client):
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("url", [SETUP, REMOVE, CODES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_changes_need_a_recent_authentication(signed_in, user, url, method):
    enroll(user) if url != SETUP else None
    stale(signed_in)
    before = (TOTPDevice.objects.count(), RecoveryCode.objects.count())
    response = getattr(signed_in, method)(url, {"code": "123456"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:reauthenticate"))
    assert (TOTPDevice.objects.count(), RecoveryCode.objects.count()) == before
    assert mail.outbox == []


def test_opening_the_setup_page_changes_nothing(signed_in, user):
    """A GET (a link followed, a prefetch, a page another site loads) begins no setup: the
    page offers a button that does, a POST with the CSRF token."""
    response = signed_in.get(SETUP)
    assert response.status_code == 200
    page = response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert 'id="totp-secret"' not in page and "<svg" not in page
    form = re.search(r'<form method="post">.*?</form>', page, re.S).group(0)
    assert "csrfmiddlewaretoken" in form
    assert '<button type="submit" name="action" value="begin">Start setup</button>' in form


def test_beginning_a_setup_needs_the_csrf_token(user, password):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.post(SETUP, {"action": "begin"}).status_code == 403
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_the_button_begins_the_setup_and_shows_it(signed_in, user, monkeypatch):
    drawn = []
    draw = totp.qr_svg
    monkeypatch.setattr(totp, "qr_svg", lambda uri: drawn.append(uri) or draw(uri))
    response = signed_in.post(SETUP, {"action": "begin"})
    assert response.status_code == 302 and response["Location"] == SETUP
    assert not TOTPDevice.objects.get(user=user).confirmed
    assert drawn == []  # the QR code is drawn by the page that shows it, not by the button
    page = signed_in.get(SETUP).content.decode()
    assert page_secret(page.encode()) == totp.base32(totp.device_key(
        TOTPDevice.objects.get(user=user)))
    assert "Start setup" not in page
    assert len(drawn) == 1


def test_setup_page_shows_a_local_svg_qr_code_and_the_key(signed_in, user):
    response = begin_setup(signed_in)
    assert response.status_code == 200
    page = response.content.decode()
    secret = page_secret(response.content)
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    assert totp.base32(totp.device_key(device)) == secret
    # The QR code is an inline SVG of the otpauth URI holding the key shown for manual entry;
    # nothing is fetched from elsewhere (the key never leaves the page).
    uri = totp.otpauth_uri(device, user.email)
    assert f"secret={secret}" in uri
    assert segno.make(uri, error="m").svg_inline(scale=4, dark="#1b1f24", light="#ffffff") in page
    assert "<svg" in page and "<img" not in page
    assert "https://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org", "")
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]


def test_reloading_the_setup_page_keeps_the_same_key(signed_in):
    first = page_secret(begin_setup(signed_in).content)
    assert page_secret(signed_in.get(SETUP).content) == first
    # Pressing the button again (another tab of this browser) shows the same key.
    assert page_secret(begin_setup(signed_in).content) == first
    assert TOTPDevice.objects.count() == 1


# A setup is the session's own: whoever else once had the password, and began one elsewhere,
# never gets a key the owner scans.

def second_session(user, password):
    from django.test import Client

    other = Client()
    assert login(other, user, password).status_code == 302
    return other


def test_a_key_being_set_up_is_shown_only_to_the_session_that_began_it(signed_in, user,
                                                                        password, clock):
    other = second_session(user, password)
    planted = page_secret(begin_setup(other).content)

    secret = page_secret(begin_setup(signed_in).content)
    assert secret != planted
    assert signed_in.post(SETUP, {"code": clock.code(secret)}).status_code == 200

    assert TOTPDevice.objects.filter(user=user).count() == 1  # the other setup ended
    assert totp.base32(totp.device_key(devices.totp_device(user))) == secret
    # The other session signed in with the password alone: the account has an app now, so
    # it is sent to prove it first ...
    response = other.post(SETUP, {"code": clock.code(planted)})
    assert response["Location"].startswith(reverse("accounts:reauthenticate"))
    assert TOTPDevice.objects.filter(user=user).count() == 1
    # ... and once it has (the owner's other tab), the setup it began is gone all the same.
    step_up(other, clock, secret)
    response = other.post(SETUP, {"code": clock.code(planted)})
    assert "Start the setup again." in response.content.decode()
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_a_setup_begun_before_a_password_change_ends_with_it(signed_in, user, password):
    other = second_session(user, password)
    begin_setup(other)

    changed = signed_in.post(reverse("accounts:password_change"), {
        "current_password": password, "new_password": "a brand new passphrase 2026",
        "new_password_confirm": "a brand new passphrase 2026"})

    assert changed.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_a_setup_left_unfinished_expires(signed_in, user, clock, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from mfa import flows

    secret = page_secret(begin_setup(signed_in).content)
    later = timezone.now() + flows.SETUP_LIFETIME + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)

    response = signed_in.post(SETUP, {"code": clock.code(secret)})

    assert "Start the setup again." in response.content.decode()
    assert not devices.has_mfa(user)
    fresh = page_secret(begin_setup(signed_in).content)
    assert fresh != secret and TOTPDevice.objects.filter(user=user).count() == 1


def test_code_field_is_a_one_time_code_input(signed_in):
    page = begin_setup(signed_in).content.decode()
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    assert 'autocomplete="one-time-code"' in field
    assert 'inputmode="numeric"' in field
    assert re.search(r'<label for="id_code">', page)


def test_the_code_fields_pattern_lets_every_scripts_digits_through(signed_in):
    """The browser checks the field's pattern before it sends the form: one of ASCII digits
    stopped a phone's full-width or Arabic-Indic digits there, which the server reads."""
    page = begin_setup(signed_in).content.decode()
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page).group(0)
    pattern = html.unescape(re.search(r'pattern="([^"]*)"', field).group(1))
    assert pattern == r"[\p{Nd}\s]*"
    # A browser matches it in Unicode mode, where \p{Nd} is what \d is in Python's str patterns.
    as_python = pattern.replace(r"\p{Nd}", r"\d")
    for digits in DIGIT_FAMILIES.values():
        assert re.fullmatch(as_python, in_digits("123 456", digits))
    assert not re.fullmatch(as_python, in_digits("123456", SUPERSCRIPTS))


def test_the_device_is_not_active_before_a_valid_code(client, signed_in, user, password, clock):
    secret = page_secret(begin_setup(signed_in).content)
    response = signed_in.post(SETUP, {"code": clock.code(secret, 5)})
    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert 'class="error"' in response.content.decode()
    assert not devices.has_mfa(user)
    assert mail.outbox == []
    # A pending device does not make sign-in ask for a code.
    signed_in.post(reverse("accounts:logout"))
    response = login(signed_in, user, password)
    assert response["Location"] == reverse("accounts:profile")


def test_a_valid_code_activates_and_shows_recovery_codes_once(signed_in, user, clock):
    secret = page_secret(begin_setup(signed_in).content)
    response = signed_in.post(SETUP, {"code": clock.code(secret)})
    assert response.status_code == 200
    codes = page_codes(response.content)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert devices.has_mfa(user)
    assert TOTPDevice.objects.get(user=user).confirmed
    # Downloadable as text, straight from the page (a data: URL, nothing stored).
    href = re.search(r'href="(data:text/plain[^"]+)" download="recovery-codes.txt"',
                     response.content.decode()).group(1)
    assert unquote(href.split(",", 1)[1]).split() == codes
    # This session proved the new factor.
    assert record(signed_in)["amr"] == ["mfa", "otp", "pwd"]
    assert record(signed_in)["acr"] == "urn:authsuite:acr:mfa"
    # Shown once: the codes are nowhere to be seen afterwards.
    for url in (INDEX, CODES):
        page = signed_in.get(url).content.decode()
        assert not any(code in page for code in codes)


def test_enrollment_sends_exactly_one_alert(signed_in, user, clock):
    secret = page_secret(begin_setup(signed_in).content)
    signed_in.post(SETUP, {"code": clock.code(secret)})
    assert subjects(user.email) == ["authsuite demo: A sign-in factor was added"]
    body = mail.outbox[0].body
    assert "authenticator app was added" in body
    assert secret not in body


def test_the_enrollment_code_cannot_be_replayed_at_sign_in(client, signed_in, user, password, clock):
    secret = page_secret(begin_setup(signed_in).content)
    code = clock.code(secret)
    signed_in.post(SETUP, {"code": code})
    signed_in.post(reverse("accounts:logout"))
    login(signed_in, user, password)
    response = signed_in.post(reverse("mfa:challenge"), {"code": code})
    assert response.status_code == 200 and AUTH_KEY not in signed_in.session


def test_setup_when_already_enrolled_goes_back_to_the_overview(signed_in, user, clock):
    secret, _ = enroll(user)
    step_up(signed_in, clock, secret)  # the app was added after the password sign-in
    response = signed_in.get(SETUP)
    assert response["Location"] == INDEX
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_activation_without_a_pending_setup(signed_in, user, clock):
    response = signed_in.post(SETUP, {"code": "123456"})
    assert response.status_code == 200
    assert "Start the setup again." in response.content.decode()
    assert not TOTPDevice.objects.exists()


def test_a_second_pending_app_is_refused_once_one_is_on(signed_in, user, password, clock,
                                                        monkeypatch):
    """Setups begun at the same moment in two sessions may each leave a pending app, the
    other's begun just after this one ended the rest. Once one is on, the other is refused:
    a second app would stay a working factor after "the" app is removed."""
    from mfa.flows import authenticator as flows  # where activation looks it up

    other_tab = Client()
    login(other_tab, user, password)
    first = page_secret(begin_setup(signed_in).content)
    second = page_secret(begin_setup(other_tab).content)
    monkeypatch.setattr(flows, "setups_void", lambda user: 0)  # the other setup came later
    assert signed_in.post(SETUP, {"code": clock.code(first)}).status_code == 200
    # The other tab signed in with the password alone: it is sent to prove the app first,
    # and once it has, its own pending app is still refused.
    response = other_tab.post(SETUP, {"code": clock.code(second)})
    assert response["Location"].startswith(reverse("accounts:reauthenticate"))
    step_up(other_tab, clock, first)
    response = other_tab.post(SETUP, {"code": clock.code(second)})
    assert "An authenticator app is already set up." in response.content.decode()
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert subjects(user.email) == ["authsuite demo: A sign-in factor was added"]


def test_existing_recovery_codes_are_kept_when_an_app_is_added_again(signed_in, user, clock):
    codes = recovery.generate(user)
    secret = page_secret(begin_setup(signed_in).content)
    response = signed_in.post(SETUP, {"code": clock.code(secret)})
    assert response.status_code == 302 and response["Location"] == INDEX
    device = RecoveryCodeSet.objects.get(user=user)
    assert device.verify_token(codes[0])


# --- removal --------------------------------------------------------------------------------


def test_removing_the_app(signed_in, user, password, clock):
    secret, codes = enroll(user)
    step_up(signed_in, clock, secret)  # the app was added after the password sign-in
    TrustedBrowser.objects.create(user=user, digest="x" * 64, expires_at="2999-01-01T00:00Z")
    assert signed_in.get(REMOVE).status_code == 200
    response = signed_in.post(REMOVE)
    assert response["Location"] == INDEX
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCodeSet.objects.filter(user=user).exists()  # no factor left: codes go too
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert subjects(user.email) == ["authsuite demo: A sign-in factor was removed"]
    signed_in.post(reverse("accounts:logout"))
    assert login(signed_in, user, password)["Location"] == reverse("accounts:profile")


def test_removing_when_nothing_is_set_up(signed_in, user):
    response = signed_in.post(REMOVE, follow=True)
    assert "No authenticator app is set up." in response.content.decode()
    assert mail.outbox == []


# --- regenerating recovery codes ------------------------------------------------------------


def test_regenerating_recovery_codes(client, user, password, clock):
    secret, old = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    mail.outbox.clear()
    page = client.get(CODES).content.decode()
    assert "You have 10 unused codes." in page
    response = client.post(CODES)
    new = page_codes(response.content)
    assert len(new) == 10 and not set(new) & set(old)
    device = RecoveryCodeSet.objects.get(user=user)
    assert not device.verify_token(old[0])
    assert device.verify_token(new[0])
    assert subjects(user.email) == ["authsuite demo: New recovery codes were created"]


def test_regenerating_without_an_app(signed_in, user):
    response = signed_in.post(CODES, follow=True)
    assert "Set up an authenticator app first." in response.content.decode()
    assert not RecoveryCode.objects.exists()
    assert mail.outbox == []


# --- the overview ---------------------------------------------------------------------------


def test_overview_lists_factors_with_added_and_last_used(client, user, password, clock):
    secret, codes = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    page = client.get(INDEX).content.decode()
    device = TOTPDevice.objects.get(user=user)
    assert device.last_used_at is not None
    assert f"Added {device.created_at:%Y-%m-%d}" in page
    assert "last used" in page
    assert "10 unused codes left" in page


def test_overview_shows_when_a_recovery_code_was_last_used(client, user, password):
    _, codes = enroll(user)
    login(client, user, password)
    client.post(reverse("mfa:challenge"), {"code": codes[0]})
    page = client.get(INDEX).content.decode()
    assert re.search(r"9 unused codes left \(created [0-9-]+, last used 0.minutes ago\)", page)


def test_overview_without_factors(signed_in):
    page = signed_in.get(INDEX).content.decode()
    assert "Set up an authenticator app" in page
    assert "No browser skips the code check." in page


def test_overview_needs_a_signed_in_user(client):
    assert client.get(INDEX)["Location"].startswith(reverse("accounts:login"))


def test_pyotp_accepts_the_uri_the_page_encodes(signed_in, user):
    begin_setup(signed_in)
    device = TOTPDevice.objects.get(user=user)
    parsed = pyotp.parse_uri(totp.otpauth_uri(device, user.email))
    assert parsed.name == user.email and parsed.issuer == "authsuite demo"
