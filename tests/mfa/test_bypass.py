"""No path around the second factor: every first factor leads to /mfa/challenge/, and no
session is authenticated until the code is given.

Each path is tried for real (pages, API, mailed links, the admin); the session is asked of
the server, and every page or endpoint a signed-in user could reach is tried in between.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import authrecord
from accounts.models import PasswordChangeRequired
from mfa.models import TOTPDevice
from tests.helpers import last_link, token_from, user_admin_url
from tests.mfa.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_get,
    api_post,
    enroll,
    error_code,
    login,
    signed_in,
)

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")
NEW_PASSWORD = "a completely new passphrase 42"


@pytest.fixture
def secret(user):
    secret, _ = enroll(user)
    return secret


def assert_nothing_authenticated(client) -> None:
    """Nothing a signed-in user may reach answers this client."""
    assert AUTH_KEY not in client.session
    assert RECORD_KEY not in client.session
    assert not signed_in(client)
    for url in (reverse("accounts:profile"), reverse("accounts:sessions"), reverse("mfa:index"),
                reverse("mfa:totp_setup"), reverse("mfa:recovery_codes"), "/admin/",
                "/admin/login/", user_admin_url("changelist")):
        response = client.get(url, follow=True)
        assert response.redirect_chain, url
        assert response.redirect_chain[-1][0].startswith(reverse("accounts:login")), url
    for path in ("mfa/", "sessions/", "mfa/trusted-browsers/", "mfa/recovery-codes/",
                 "account/export/"):
        assert api_get(client, path).status_code == 403, path


def pass_challenge(client, clock, secret, *, api: bool = False) -> None:
    clock.step()
    if api:
        response = api_post(client, "mfa/challenge/", {"code": clock.code(secret)})
        assert response.json() == {"status": "authenticated"}, response.content
    else:
        response = client.post(CHALLENGE, {"code": clock.code(secret)})
        assert response.status_code == 302, response.content[:300]
    assert signed_in(client)


def assert_mfa_record(client, first: str) -> None:
    record = client.session[RECORD_KEY]
    assert {first, "otp", "mfa"} <= set(record["amr"])
    assert record["acr"] == authrecord.ACR_MULTI_FACTOR


# --- each first factor ----------------------------------------------------------------------


def test_password_page(client, user, password, secret, clock):
    response = login(client, user, password)
    assert response["Location"] == CHALLENGE
    assert_nothing_authenticated(client)
    page = client.get(CHALLENGE)
    assert page.status_code == 200 and "Two-step verification" in page.content.decode()
    pass_challenge(client, clock, secret)
    assert_mfa_record(client, "pwd")
    assert client.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]


def test_password_api(client, user, password, secret, clock):
    response = api_post(client, "login/", {"email": user.email, "password": password})
    assert response.json() == {
        "status": "pending", "stage": "mfa", "url": CHALLENGE,
        "message": "Enter a code from your authenticator app or a recovery code.",
        "methods": ["totp", "recovery_code"],
    }
    assert api_get(client, "session/").json()["pending_stage"] == "mfa"
    assert_nothing_authenticated(client)
    pass_challenge(client, clock, secret, api=True)
    assert_mfa_record(client, "pwd")
    auth = api_get(client, "session/").json()["auth"]
    assert auth["amr"] == ["mfa", "otp", "pwd"] and auth["acr"] == "urn:authsuite:acr:mfa"


def test_magic_link_page(client, user, secret, clock):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    response = client.post(last_link(user.email))
    assert response["Location"] == CHALLENGE
    assert_nothing_authenticated(client)
    pass_challenge(client, clock, secret)
    assert_mfa_record(client, "email")


def test_magic_link_api(client, user, secret, clock):
    api_post(client, "magic-link/", {"email": user.email})
    token = token_from(last_link(user.email))
    response = api_post(client, "magic-link/confirm/", {"token": token})
    assert response.json()["stage"] == "mfa"
    assert_nothing_authenticated(client)
    pass_challenge(client, clock, secret, api=True)
    assert_mfa_record(client, "email")


def test_password_reset_then_sign_in(client, user, secret, clock):
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    link = last_link(user.email)
    client.get(link)
    response = client.post(link, {"new_password": NEW_PASSWORD,
                                  "new_password_confirm": NEW_PASSWORD})
    assert response["Location"] == reverse("accounts:login")
    assert_nothing_authenticated(client)  # a reset signs nobody in
    response = login(client, user, NEW_PASSWORD)
    assert response["Location"] == CHALLENGE
    assert_nothing_authenticated(client)
    pass_challenge(client, clock, secret)
    assert_mfa_record(client, "pwd")


def test_password_reset_then_sign_in_over_the_api(client, user, secret, clock):
    api_post(client, "password/reset/", {"email": user.email})
    token = token_from(last_link(user.email))
    response = api_post(client, "password/reset/confirm/",
                        {"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 200
    assert_nothing_authenticated(client)
    response = api_post(client, "login/", {"email": user.email, "password": NEW_PASSWORD})
    assert response.json()["stage"] == "mfa"
    assert_nothing_authenticated(client)
    pass_challenge(client, clock, secret, api=True)


def test_admin_login(client, staff, password, clock):
    secret, _ = enroll(staff)
    # The admin's own login form signs nobody in: it sends to the suite's sign-in.
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": password})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert_nothing_authenticated(client)
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response["Location"] == "/accounts/login/?next=/admin/"
    response = client.post(response["Location"], {"email": staff.email, "password": password})
    assert response["Location"] == CHALLENGE
    assert_nothing_authenticated(client)
    clock.step()
    response = client.post(CHALLENGE, {"code": clock.code(secret)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert_mfa_record(client, "pwd")


def test_admin_login_is_rate_limited_like_any_sign_in(client, staff, settings):
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": "3/m", "account": "3/m"}}
    statuses = [login(client, staff, "wrong password entirely").status_code for _ in range(5)]
    assert 429 in statuses
    assert_nothing_authenticated(client)


# --- shortcuts while the challenge waits ----------------------------------------------------


@pytest.fixture
def pending(client, user, password, secret):
    """A client whose sign-in waits at the second factor."""
    assert login(client, user, password)["Location"] == CHALLENGE
    mail.outbox.clear()
    return client


def test_other_stage_pages_do_not_skip_the_challenge(pending, user):
    PasswordChangeRequired.objects.create(user=user)
    response = pending.post(reverse("accounts:password_change_required"),
                            {"new_password": NEW_PASSWORD})
    assert response["Location"] == reverse("accounts:login")
    response = api_post(pending, "password/required/", {"new_password": NEW_PASSWORD})
    assert response.status_code in (400, 409)
    assert_nothing_authenticated(pending)


def test_enrollment_does_not_skip_the_challenge(pending, user, clock):
    response = pending.get(reverse("mfa:enroll"))
    assert response.status_code == 302
    assert pending.post(reverse("mfa:enroll"), {"action": "begin"}).status_code == 302
    assert pending.post(reverse("mfa:enroll"), {"code": "123456"}).status_code == 302
    assert api_post(pending, "mfa/totp/setup/").status_code == 403
    assert api_post(pending, "mfa/totp/activate/", {"code": "123456"}).status_code == 403
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert_nothing_authenticated(pending)


def test_enrollment_cannot_replace_another_factor(pending, user, clock):
    """A user whose second factor comes from elsewhere (a passkey, say) and has no app:
    setting one up at the sign-in would otherwise stand in for the factor they have."""
    from mfa import registry

    TOTPDevice.objects.filter(user=user).delete()
    registry.register_factor("test_other", lambda ref: type(user).objects.filter(pk=ref)
                             .filter(pk=user.pk))
    try:
        response = pending.get(reverse("mfa:enroll"))
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert api_post(pending, "mfa/totp/setup/").status_code == 403
        assert_nothing_authenticated(pending)
    finally:
        registry.unregister_factor("test_other")


def test_a_wrong_code_signs_nobody_in(pending, clock, secret):
    for code in ("000000", clock.code(secret, 3), "", "abcdefghijkl"):
        pending.post(CHALLENGE, {"code": code})
        assert_nothing_authenticated(pending)


def test_step_up_is_not_a_way_in(pending, clock, secret):
    """The challenge endpoints ask for the pending sign-in's user, never for anyone else."""
    other = Client()
    clock.step()
    response = api_post(other, "mfa/challenge/", {"code": clock.code(secret)})
    assert error_code(response) == "no_login_pending" and response.status_code == 409
    assert other.post(CHALLENGE, {"code": clock.code(secret)})["Location"] == reverse(
        "accounts:login")
    assert not signed_in(other)


def test_a_sign_in_that_timed_out_cannot_be_finished(pending, settings, clock, secret):
    settings.AUTHSUITE_ACCOUNTS_LOGIN_TIMEOUT = -1
    clock.step()
    response = pending.post(CHALLENGE, {"code": clock.code(secret)})
    assert response["Location"] == reverse("accounts:login")
    assert_nothing_authenticated(pending)


def test_the_admin_site_is_the_mfa_site():
    from mfa.admin_site import MFAAdminSite

    assert isinstance(admin.site, MFAAdminSite)
