"""Registering a passkey: the options offered, every relying-party check at verification,
and that a refused registration leaves nothing behind."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail
from django.test import Client

from passkeys import ceremonies
from passkeys.models import Passkey, WebAuthnUser
from tests.mfa.support import Clock, enroll, sign_in_fully
from tests.passkeys.authenticator import (
    EDDSA,
    ES256,
    RS256,
    AttestationCA,
    SoftAuthenticator,
    b64url,
    unb64url,
)
from tests.passkeys.support import (
    CHALLENGE_KEY,
    ORIGIN,
    actions,
    code,
    password_client,
    post,
    register,
    register_options,
)

pytestmark = pytest.mark.django_db

ICLOUD = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")
YUBIKEY = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")


@pytest.fixture
def client(user, password):
    return password_client(user, password)


# The options --------------------------------------------------------------------------

def test_options_prefer_a_resident_key_require_uv_and_offer_three_algorithms(client, user):
    options = register_options(client)
    assert options["rp"] == {"id": "localhost", "name": options["rp"]["name"]}
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [ES256, EDDSA, RS256]
    assert options["attestation"] == "none"
    assert options["timeout"] == 180000
    assert options["excludeCredentials"] == []
    assert options["user"]["name"] == user.email


def test_rp_name_and_resident_key_follow_the_settings(client, settings):
    from authsuite.app_settings import app_settings as core_settings

    assert register_options(client)["rp"]["name"] == core_settings.SITE_NAME
    settings.AUTHSUITE_PASSKEYS_RP_NAME = "Example Bank"
    settings.AUTHSUITE_PASSKEYS_RESIDENT_KEY = "required"
    options = register_options(client)
    assert options["rp"]["name"] == "Example Bank"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["requireResidentKey"] is True


def test_challenges_come_from_the_csprng_fresh_each_time(client):
    challenges = {register_options(client)["challenge"] for _ in range(5)}
    assert len(challenges) == 5
    assert all(len(unb64url(c)) >= 16 for c in challenges)


def test_the_user_handle_is_random_and_stable(client, user):
    handle = unb64url(register_options(client)["user"]["id"])
    assert len(handle) == 32
    assert handle not in (str(user.pk).encode(), user.pk.to_bytes(8, "big"), user.email.encode())
    assert user.email.encode() not in handle
    assert WebAuthnUser.objects.get(user=user).handle == b64url(handle)
    assert unb64url(register_options(client)["user"]["id"]) == handle


def test_existing_credentials_are_excluded(client):
    authenticator = SoftAuthenticator()
    assert register(client, authenticator).status_code == 201
    excluded = register_options(client)["excludeCredentials"]
    assert [unb64url(c["id"]) for c in excluded] == list(authenticator.credentials)


def test_registration_needs_a_recent_authentication(client, user, monkeypatch):
    from accounts import authrecord

    monkeypatch.setattr(authrecord, "now", lambda: 10 ** 10)
    response = post(client, "passkeys/register/options/")
    assert response.status_code == 403
    assert code(response) == "reauthentication_required"


def test_registration_needs_a_signed_in_user(db):
    from django.test import Client

    assert post(Client(), "passkeys/register/options/").status_code == 403


# Successful registrations --------------------------------------------------------------

@pytest.mark.parametrize("alg", [ES256, EDDSA, RS256])
@pytest.mark.parametrize("attestation", ["none", "packed"])
def test_register_each_algorithm_and_attestation(client, user, alg, attestation):
    authenticator = SoftAuthenticator()
    response = register(client, authenticator, alg=alg, attestation=attestation,
                        name="  My laptop  ")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "My laptop"
    passkey = Passkey.objects.get(user=user)
    credential_id = next(iter(authenticator.credentials))
    assert passkey.credential_id == b64url(credential_id)
    assert passkey.attestation_format == attestation
    assert passkey.user_verified and not passkey.backup_eligible and not passkey.backup_state
    assert passkey.transports == ["internal"]
    assert passkey.sign_count == 0
    assert actions(action__startswith="passkeys.") == ["passkeys.added"]
    assert [m.subject for m in mail.outbox if user.email in m.to][-1].endswith(
        "A passkey was added")


@pytest.mark.parametrize("aaguid,provider", [(ICLOUD, "iCloud Keychain"), (YUBIKEY, "YubiKey 5")])
def test_default_name_comes_from_the_aaguid_table(client, aaguid, provider):
    response = register(client, SoftAuthenticator(aaguid=aaguid))
    assert response.status_code == 201
    assert response.json()["name"] == provider
    assert response.json()["provider"] == provider


def test_unknown_authenticator_gets_a_generic_name(client):
    response = register(client, SoftAuthenticator(aaguid=uuid.uuid4()))
    assert response.json()["name"] == "Passkey"
    assert response.json()["provider"] == ""


def test_synced_passkey_is_stored_with_its_backup_flags(client, user):
    response = register(client, SoftAuthenticator(backup_eligible=True, backup_state=True))
    assert response.status_code == 201
    assert response.json()["backup_eligible"] is True
    passkey = Passkey.objects.get(user=user)
    assert passkey.backup_eligible and passkey.backup_state and passkey.synced


@pytest.mark.parametrize("setting", ["preferred", "discouraged"])
def test_uv_is_optional_only_when_configured(client, user, settings, setting):
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = setting
    options = register_options(client)
    assert options["authenticatorSelection"]["userVerification"] == setting
    credential = SoftAuthenticator(user_verification=False).create(options, origin=ORIGIN)
    response = post(client, "passkeys/register/", {"credential": credential})
    assert response.status_code == 201
    assert Passkey.objects.get(user=user).user_verified is False


def test_trusted_attestation_can_be_required(client, user, settings):
    ca = AttestationCA.create()
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS = ["packed"]
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS = {"packed": [ca.root_pem()]}
    options = register_options(client)
    assert options["attestation"] == "direct"
    authenticator = SoftAuthenticator(attestation_ca=ca)
    credential = authenticator.create(options, origin=ORIGIN, attestation="packed-full")
    response = post(client, "passkeys/register/", {"credential": credential})
    assert response.status_code == 201, response.json()
    assert Passkey.objects.get(user=user).attestation_format == "packed"


@pytest.mark.parametrize("attestation", ["none", "packed"])
def test_required_attestation_refuses_none_and_self_attestation(client, user, settings,
                                                                attestation):
    ca = AttestationCA.create()
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS = ["packed"]
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS = {"packed": [ca.root_pem()]}
    response = register(client, SoftAuthenticator(), attestation=attestation)
    assert response.status_code == 400
    assert code(response) == "passkey_invalid"
    assert not Passkey.objects.exists()


def test_required_attestation_refuses_a_certificate_from_another_root(client, settings):
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS = ["packed"]
    settings.AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS = {"packed": [AttestationCA.create().root_pem()]}
    authenticator = SoftAuthenticator(attestation_ca=AttestationCA.create())
    response = register(client, authenticator, attestation="packed-full")
    assert code(response) == "passkey_invalid"
    assert not Passkey.objects.exists()


# Refusals: each one leaves no passkey ------------------------------------------------------

def refused(response, user, expected="passkey_invalid"):
    assert response.status_code == 400, response.content
    assert code(response) == expected
    assert not Passkey.objects.filter(user=user).exists()
    assert "passkeys.added" not in actions(actor_id=str(user.pk))


def test_wrong_origin(client, user):
    refused(register(client, SoftAuthenticator(), origin="https://evil.example"), user)


def test_wrong_rp_id_hash(client, user):
    refused(register(client, SoftAuthenticator(), rp_id="evil.example"), user)


def test_user_presence_missing(client, user):
    refused(register(client, SoftAuthenticator(user_presence=False)), user)


def test_user_verification_missing(client, user):
    refused(register(client, SoftAuthenticator(user_verification=False)), user)


def test_cross_origin(client, user):
    refused(register(client, SoftAuthenticator(), client_extra={"crossOrigin": True}), user)


def test_top_origin(client, user):
    extra = {"crossOrigin": True, "topOrigin": "https://evil.example"}
    refused(register(client, SoftAuthenticator(), client_extra=extra), user)


def test_cross_origin_accepted_only_from_configured_top_origins(client, user, settings):
    settings.AUTHSUITE_PASSKEYS_ALLOW_CROSS_ORIGIN = True
    settings.AUTHSUITE_PASSKEYS_TOP_ORIGINS = ["https://portal.example"]
    extra = {"crossOrigin": True, "topOrigin": "https://evil.example"}
    refused(register(client, SoftAuthenticator(), client_extra=extra), user)
    extra = {"crossOrigin": True, "topOrigin": "https://portal.example"}
    assert register(client, SoftAuthenticator(), client_extra=extra).status_code == 201


def test_cross_origin_must_be_a_boolean(client, user):
    refused(register(client, SoftAuthenticator(), client_extra={"crossOrigin": "yes"}), user)


def test_wrong_client_data_type(client, user):
    options = register_options(client)
    credential = SoftAuthenticator().create(options, origin=ORIGIN, client_extra={"type": "webauthn.get"})
    refused(post(client, "passkeys/register/", {"credential": credential}), user)


def test_algorithm_not_allowed(client, user, settings):
    settings.AUTHSUITE_PASSKEYS_ALGORITHMS = [ES256]
    options = register_options(client)
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [ES256]
    credential = SoftAuthenticator().create(options, origin=ORIGIN, alg=EDDSA)
    refused(post(client, "passkeys/register/", {"credential": credential}), user)


def test_backed_up_but_not_backup_eligible(client, user):
    refused(register(client, SoftAuthenticator(backup_eligible=False, backup_state=True)), user)


def test_tampered_self_attestation(client, user):
    options = register_options(client)
    credential = SoftAuthenticator().create(options, origin=ORIGIN, attestation="packed")
    # Changing the challenge in the client data breaks the attestation signature (and
    # the challenge): refused either way.
    credential["response"]["clientDataJSON"] = b64url(
        unb64url(credential["response"]["clientDataJSON"]).replace(b'"crossOrigin":false',
                                                                   b'"crossOrigin":false '))
    refused(post(client, "passkeys/register/", {"credential": credential}), user)


def test_credential_id_over_1023_bytes(client, user):
    refused(register(client, SoftAuthenticator(), credential_id=b"\x01" * 1024), user)


def test_credential_id_of_1023_bytes_is_accepted(client, user):
    assert register(client, SoftAuthenticator(), credential_id=b"\x01" * 1023).status_code == 201


def test_credential_id_already_registered_by_another_user(client, user, password):
    from tests.factories import UserFactory

    other = UserFactory(password=password)
    other_client = password_client(other, password)
    assert register(other_client, SoftAuthenticator(), credential_id=b"shared" * 6).status_code == 201
    refused(register(client, SoftAuthenticator(), credential_id=b"shared" * 6), user,
            "passkey_duplicate")
    assert Passkey.objects.get().user == other


def test_the_limit_on_passkeys(client, user, settings):
    settings.AUTHSUITE_PASSKEYS_MAX_PASSKEYS = 1
    assert register(client, SoftAuthenticator()).status_code == 201
    response = post(client, "passkeys/register/options/")
    assert response.status_code == 400
    assert code(response) == "passkey_limit"


def test_the_limit_holds_for_options_asked_for_before_it_was_reached(user, password, settings,
                                                                     monkeypatch):
    """Options asked for in two sessions (or two tabs' worth of them) before either
    registers: the second registration is refused, and nothing of it is kept."""
    settings.AUTHSUITE_PASSKEYS_MAX_PASSKEYS = 1
    # Both sessions have proven two factors (an app and its code), so that the first passkey
    # does not send the second session to prove a factor before its registration is tried.
    secret, _codes = enroll(user)
    clock = Clock(monkeypatch)
    first, second = Client(), Client()
    for session in (first, second):
        sign_in_fully(session, user, password, clock, secret)
    options = [register_options(first), register_options(second)]
    credentials = [SoftAuthenticator().create(o, origin=ORIGIN) for o in options]
    assert post(first, "passkeys/register/", {"credential": credentials[0]}).status_code == 201
    response = post(second, "passkeys/register/", {"credential": credentials[1]})
    assert response.status_code == 400
    assert code(response) == "passkey_limit"
    assert Passkey.objects.filter(user=user).count() == 1
    assert actions(action__startswith="passkeys.added") == ["passkeys.added"]


# Challenges ----------------------------------------------------------------------------------

def test_challenge_is_single_use(client, user):
    options = register_options(client)
    authenticator = SoftAuthenticator()
    credential = authenticator.create(options, origin=ORIGIN)
    assert post(client, "passkeys/register/", {"credential": credential}).status_code == 201
    again = authenticator.create(options, origin=ORIGIN)
    response = post(client, "passkeys/register/", {"credential": again})
    assert code(response) == "passkey_challenge_missing"
    assert Passkey.objects.filter(user=user).count() == 1


def test_challenge_is_deleted_before_verification(client, user):
    options = register_options(client)
    bad = SoftAuthenticator().create(options, origin="https://evil.example")
    assert code(post(client, "passkeys/register/", {"credential": bad})) == "passkey_invalid"
    assert CHALLENGE_KEY not in client.session
    # The same challenge answered correctly after a failure is refused too.
    good = SoftAuthenticator().create(options, origin=ORIGIN)
    refused(post(client, "passkeys/register/", {"credential": good}), user,
            "passkey_challenge_missing")


def test_challenge_expires_with_the_ceremony_timeout(client, user, monkeypatch, settings):
    settings.AUTHSUITE_PASSKEYS_TIMEOUT = 60000
    start = 1_800_000_000.0
    monkeypatch.setattr(ceremonies, "now", lambda: start)
    options = register_options(client)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    monkeypatch.setattr(ceremonies, "now", lambda: start + 60.5)
    refused(post(client, "passkeys/register/", {"credential": credential}), user,
            "passkey_challenge_missing")


def test_challenge_just_inside_the_timeout_is_accepted(client, user, monkeypatch, settings):
    settings.AUTHSUITE_PASSKEYS_TIMEOUT = 60000
    start = 1_800_000_000.0
    monkeypatch.setattr(ceremonies, "now", lambda: start)
    options = register_options(client)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    monkeypatch.setattr(ceremonies, "now", lambda: start + 59.5)
    assert post(client, "passkeys/register/", {"credential": credential}).status_code == 201


def test_challenge_is_bound_to_the_session(client, user, password):
    options = register_options(client)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    other_session = password_client(user, password)
    refused(post(other_session, "passkeys/register/", {"credential": credential}), user,
            "passkey_challenge_missing")


def test_challenge_is_bound_to_the_ceremony(client, user):
    reg_options = register_options(client)
    # A sign-in started in the same session: its challenge replaces the registration's.
    login_challenge = post(client, "passkeys/login/options/").json()["challenge"]
    credential = SoftAuthenticator().create({**reg_options, "challenge": login_challenge},
                                            origin=ORIGIN)
    refused(post(client, "passkeys/register/", {"credential": credential}), user,
            "passkey_challenge_missing")
