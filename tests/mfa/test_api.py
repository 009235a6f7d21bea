"""The MFA JSON API under /api/auth/v1/mfa/: status, enrollment, activation, challenge,
recovery codes, removal and trusted browsers, in the suite's envelope and in its schema."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from mfa.models import RecoveryCodeSet, TOTPDevice
from tests.mfa.support import (
    api_delete,
    api_get,
    api_post,
    enroll,
    error_code,
    login,
    sign_in_fully,
    step_up,
    subjects,
)

pytestmark = pytest.mark.django_db

MFA_PATHS = {
    "/api/auth/v1/mfa/": {"get"},
    "/api/auth/v1/mfa/totp/setup/": {"post"},
    "/api/auth/v1/mfa/totp/activate/": {"post"},
    "/api/auth/v1/mfa/totp/": {"delete"},
    "/api/auth/v1/mfa/challenge/": {"post"},
    "/api/auth/v1/mfa/recovery-codes/": {"get", "post"},
    "/api/auth/v1/mfa/trusted-browsers/": {"get"},
    "/api/auth/v1/mfa/trusted-browsers/{id}/": {"delete"},
}


@pytest.fixture
def recent(client, user, password):
    """Signed in moments ago with the password (no factor yet)."""
    assert api_post(client, "login/", {"email": user.email, "password": password}).json() == {
        "status": "authenticated"}
    mail.outbox.clear()
    return client


@pytest.fixture
def stale(recent):
    session = recent.session
    session["_authsuite_auth"] = {**session["_authsuite_auth"], "auth_time": 1}
    session.save()
    return recent


def test_status_without_factors(recent):
    assert api_get(recent, "mfa/").json() == {
        "totp": False, "totp_created_at": None, "totp_last_used_at": None,
        "recovery_codes_remaining": 0, "required": False, "grace_ends": None,
    }


def test_status_with_factors(client, user, password, clock):
    secret, _ = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    status = api_get(client, "mfa/").json()
    assert status["totp"] is True
    assert status["totp_created_at"] and status["totp_last_used_at"]
    assert status["recovery_codes_remaining"] == 10
    assert api_get(client, "mfa/recovery-codes/").json() == {"remaining": 10}


def test_signed_out_clients_get_the_envelope(client):
    for method, path in (("get", "mfa/"), ("post", "mfa/totp/setup/"), ("delete", "mfa/totp/"),
                         ("get", "mfa/recovery-codes/"), ("post", "mfa/recovery-codes/"),
                         ("get", "mfa/trusted-browsers/"), ("delete", "mfa/trusted-browsers/1/"),
                         ("post", "mfa/totp/activate/")):
        response = client.generic(method.upper(), "/api/auth/v1/" + path, "{}",
                                  content_type="application/json")
        assert response.status_code == 403, path
        assert error_code(response) == "not_authenticated", path


def test_enrollment_and_activation(recent, user, clock):
    setup = api_post(recent, "mfa/totp/setup/").json()
    assert setup["otpauth_uri"] == (
        f"otpauth://totp/authsuite%20demo:{user.email}?secret={setup['secret']}"
        "&issuer=authsuite+demo&algorithm=SHA1&digits=6&period=30")
    assert setup["qr_svg"].startswith("<svg") and "http" not in setup["qr_svg"].replace(
        "http://www.w3.org/2000/svg", "")
    # Asking again gives the same pending key.
    assert api_post(recent, "mfa/totp/setup/").json()["secret"] == setup["secret"]
    response = api_post(recent, "mfa/totp/activate/", {"code": clock.code(setup["secret"])})
    assert response.status_code == 200
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and "login" not in response.json()
    assert TOTPDevice.objects.get(user=user).confirmed
    assert api_get(recent, "session/").json()["auth"]["amr"] == ["mfa", "otp", "pwd"]
    assert subjects(user.email) == ["authsuite demo: A sign-in factor was added"]
    # Once enrolled, setup refuses to start over.
    response = api_post(recent, "mfa/totp/setup/")
    assert response.status_code == 400 and error_code(response) == "mfa_already_enrolled"


def test_activation_without_setup(recent):
    response = api_post(recent, "mfa/totp/activate/", {"code": "123456"})
    assert error_code(response) == "mfa_no_pending_setup"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "mfa/totp/setup/", None), ("post", "mfa/totp/activate/", {"code": "123456"}),
    ("delete", "mfa/totp/", None), ("post", "mfa/recovery-codes/", None),
])
def test_changes_need_a_recent_authentication(stale, user, method, path, body):
    enroll(user)
    before = (TOTPDevice.objects.count(), RecoveryCodeSet.objects.get().pk)
    response = (api_post(stale, path, body) if method == "post" else api_delete(stale, path))
    assert response.status_code == 403
    assert error_code(response) == "reauthentication_required"
    assert (TOTPDevice.objects.count(), RecoveryCodeSet.objects.get().pk) == before
    assert mail.outbox == []


def test_removal(recent, user, clock):
    secret, _ = enroll(user)
    step_up(recent, clock, secret)  # the app was added after the password sign-in
    response = api_delete(recent, "mfa/totp/")
    assert response.status_code == 204
    assert not TOTPDevice.objects.exists() and not RecoveryCodeSet.objects.exists()
    assert subjects(user.email) == ["authsuite demo: A sign-in factor was removed"]
    response = api_delete(recent, "mfa/totp/")
    assert response.status_code == 400 and error_code(response) == "mfa_not_enrolled"


def test_regeneration(recent, user, clock):
    secret, old = enroll(user)
    step_up(recent, clock, secret)  # the app was added after the password sign-in
    codes = api_post(recent, "mfa/recovery-codes/").json()["recovery_codes"]
    assert len(codes) == 10 and not set(codes) & set(old)
    assert subjects(user.email) == ["authsuite demo: New recovery codes were created"]


def test_regeneration_without_a_factor(recent):
    response = api_post(recent, "mfa/recovery-codes/")
    assert error_code(response) == "mfa_not_enrolled"
    assert not RecoveryCodeSet.objects.exists()


def test_challenge_without_a_sign_in(client):
    response = api_post(client, "mfa/challenge/", {"code": "123456"})
    assert response.status_code == 409 and error_code(response) == "no_login_pending"


def test_the_api_needs_csrf_from_a_signed_in_browser(user, password, clock):
    secret, _ = enroll(user)
    browser = Client(enforce_csrf_checks=True)
    sign_in_csrf_exempt = Client()
    sign_in_fully(sign_in_csrf_exempt, user, password, clock, secret)
    browser.cookies = sign_in_csrf_exempt.cookies
    for path in ("mfa/recovery-codes/", "mfa/challenge/"):
        response = api_post(browser, path, {"code": "123456"})
        assert response.status_code == 403 and error_code(response) == "csrf_failed"
    assert api_delete(browser, "mfa/totp/").status_code == 403
    assert TOTPDevice.objects.exists()


def test_responses_are_never_cached(recent, user):
    for response in (api_get(recent, "mfa/"), api_post(recent, "mfa/totp/setup/"),
                     api_post(recent, "mfa/challenge/", {"code": "1"})):
        assert "no-store" in response["Cache-Control"]


def test_the_schema_describes_every_mfa_endpoint(client):
    schema = client.get("/api/auth/v1/schema/?format=json").json()
    for path, methods in MFA_PATHS.items():
        assert path in schema["paths"], path
        operations = schema["paths"][path]
        assert methods <= set(operations), path
        for method in methods:
            operation = operations[method]
            assert operation["summary"], (path, method)
            assert "Translates an app's flow errors" not in operation.get("description", "")
            assert operation["responses"], (path, method)
    challenge = schema["paths"]["/api/auth/v1/mfa/challenge/"]["post"]
    body = challenge["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert set(component["properties"]) == {"code", "trust_browser"}
    assert component["properties"]["code"]["maxLength"] == 32
    assert "200" in challenge["responses"]


def test_sign_in_then_challenge_then_status_over_the_api_only(client, user, password, clock):
    secret, codes = enroll(user)
    assert api_post(client, "login/", {"email": user.email, "password": password}).json()[
        "stage"] == "mfa"
    response = api_post(client, "mfa/challenge/", {"code": codes[0]})
    assert response.json() == {"status": "authenticated"}
    assert api_get(client, "mfa/").json()["recovery_codes_remaining"] == 9


def test_html_login_then_api_challenge(client, user, password, clock):
    secret, _ = enroll(user)
    login(client, user, password)
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).json() == {
        "status": "authenticated"}
