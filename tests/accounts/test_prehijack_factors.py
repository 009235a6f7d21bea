"""Pre-hijacking with optional verification: whoever signed up with an address is signed in
before its owner proves the mailbox. They cannot attach a passkey or an authenticator app
then, which would outlive the proof (the password nobody proved is dropped by it; a factor
would not be)."""

from __future__ import annotations

import pyotp
import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import EmailAddress
from mfa.models import TOTPDevice
from passkeys.models import Passkey
from tests.helpers import last_link, link_form, open_link
from tests.mfa.support import Clock, api_post, error_code, signed_in
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import add_passkey, login, register

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"
PASSWORD = "the attacker chose this long one"

optional = override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="optional")


def attacker_signed_up() -> Client:
    attacker = Client()
    response = api_post(attacker, "signup/", {"email": VICTIM, "password": PASSWORD})
    assert response.json()["status"] == "authenticated"  # a fresh sign-in: sudo mode is open
    return attacker


@optional
def test_no_passkey_on_an_unproven_address():
    attacker = attacker_signed_up()
    response = api_post(attacker, "passkeys/register/options/")
    assert response.status_code == 403
    assert error_code(response) == "email_unverified"
    assert VICTIM in response.json()["error"]["message"]
    assert not Passkey.objects.exists()


@optional
def test_no_passkey_from_options_asked_for_before_the_check(monkeypatch):
    # Options handed out, then the address turns out unproven at the verify step (say, it
    # changed in between): the verify step refuses too.
    from passkeys.flows import registration as flows  # where the check is looked up

    attacker = attacker_signed_up()
    real = flows.address_proven_required
    monkeypatch.setattr(flows, "address_proven_required", lambda user, adding: None)
    options = api_post(attacker, "passkeys/register/options/").json()
    monkeypatch.setattr(flows, "address_proven_required", real)
    credential = SoftAuthenticator().create(options, origin="http://testserver")
    response = api_post(attacker, "passkeys/register/", {"credential": credential})
    assert response.status_code == 403 and error_code(response) == "email_unverified"
    assert not Passkey.objects.exists()


@optional
def test_no_authenticator_app_on_an_unproven_address():
    attacker = attacker_signed_up()
    response = api_post(attacker, "mfa/totp/setup/")
    assert response.status_code == 403 and error_code(response) == "email_unverified"
    assert not TOTPDevice.objects.exists()
    page = attacker.get(reverse("mfa:totp_setup"), follow=True)
    assert "Verify your email address before adding an authenticator app" in page.content.decode()
    assert not TOTPDevice.objects.exists()


@optional
def test_the_owner_proving_the_mailbox_leaves_the_attacker_nothing():
    attacker = attacker_signed_up()
    api_post(attacker, "passkeys/register/options/")
    owner = Client()
    owner.post(reverse("accounts:magic_link"), {"email": VICTIM})
    owner.post(last_link(VICTIM))
    assert signed_in(owner)
    # The owner, with a proven address, adds their own passkey.
    key = SoftAuthenticator()
    add_passkey(owner, key)
    assert login(Client(), key).json()["status"] == "authenticated"
    assert not signed_in(attacker)


@optional
def test_once_verified_factors_can_be_added(client):
    response = api_post(client, "signup/", {"email": "ann@example.com", "password": PASSWORD})
    assert response.json()["status"] == "authenticated"
    page, url = open_link(client, last_link("ann@example.com"))
    client.post(url, link_form(page))
    assert EmailAddress.objects.get(email="ann@example.com").verified
    assert register(client, SoftAuthenticator()).status_code == 201


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
def test_with_verification_off_addresses_are_trusted_as_typed(client):
    response = api_post(client, "signup/", {"email": "ann@example.com", "password": PASSWORD})
    assert response.json()["status"] == "authenticated"
    assert register(client, SoftAuthenticator()).status_code == 201


def test_addresses_left_unverified_are_trusted_once_verification_is_off(settings, client):
    """An account that signed up while verification was optional and never followed its
    link: once the project turns verification off, its address is trusted as typed too."""
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "optional"
    assert api_post(client, "signup/", {"email": "ann@example.com", "password": PASSWORD}
                    ).json()["status"] == "authenticated"
    assert EmailAddress.objects.get(email="ann@example.com").verified is False
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "none"

    assert api_post(client, "mfa/totp/setup/").status_code == 200
    assert register(client, SoftAuthenticator()).status_code == 201


@optional
@override_settings(AUTHSUITE_MFA_REQUIRED="everyone")
def test_required_enrolment_sends_a_link_and_goes_on_once_it_is_followed(monkeypatch):
    clock = Clock(monkeypatch)
    client = Client()
    response = api_post(client, "signup/", {"email": "ann@example.com", "password": PASSWORD})
    assert response.json()["stage"] == "mfa_enroll"
    assert error_code(api_post(client, "mfa/totp/setup/")) == "email_unverified"
    # The stage sent a fresh link; following it (the password proves who chose it) lets
    # the owner enrol and finish signing in.
    # The sign-up's link, then the stage's: the newer voids the older.
    assert [m.to for m in mail.outbox] == [["ann@example.com"], ["ann@example.com"]]
    other = Client()
    page, url = open_link(other, last_link("ann@example.com"))
    response = other.post(url, link_form(page, password=PASSWORD))
    assert EmailAddress.objects.get(email="ann@example.com").verified
    secret = api_post(client, "mfa/totp/setup/").json()["secret"]
    response = api_post(client, "mfa/totp/activate/", {"code": pyotp.TOTP(secret).at(clock.t)})
    assert response.json()["login"] == {"status": "authenticated"}


@optional
def test_no_authenticator_app_from_a_setup_begun_before_the_check(monkeypatch):
    # A setup begun while the check let it through (say, before it existed): activating it
    # refuses too, and the pending device stays unconfirmed.
    from mfa.flows import authenticator as flows  # where the check is looked up

    clock = Clock(monkeypatch)
    attacker = attacker_signed_up()
    real = flows.address_proven_required
    monkeypatch.setattr(flows, "address_proven_required", lambda user, adding: None)
    secret = api_post(attacker, "mfa/totp/setup/").json()["secret"]
    monkeypatch.setattr(flows, "address_proven_required", real)
    response = api_post(attacker, "mfa/totp/activate/", {"code": pyotp.TOTP(secret).at(clock.t)})
    assert response.status_code == 403 and error_code(response) == "email_unverified"
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
