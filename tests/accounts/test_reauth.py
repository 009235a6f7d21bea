"""Reauthentication ("sudo mode"): sensitive actions need a recent authentication."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from accounts.models import EmailAddress, LoginThrottle
from tests.accounts.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_post,
    error_code,
    freeze,
    signed_in_api,
    signed_in_html,
)

pytestmark = pytest.mark.django_db
REAUTH = "/accounts/reauthenticate/"
NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def stale(client, user, password, time_machine):
    """A client signed in with a password more than five minutes ago."""
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    time_machine.shift(301)
    return client


@pytest.fixture
def second_address(user):
    return EmailAddress.objects.create(user=user, email="second@example.com", verified=True)


def reauth_url(next_path: str) -> str:
    return f"{REAUTH}?next={quote(next_path, safe='')}"


# --- HTML -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/accounts/password/change/", "/accounts/close/"])
def test_stale_session_is_sent_to_reauthenticate(stale, path):
    response = stale.get(path)
    assert response.status_code == 302
    assert response["Location"] == reauth_url(path)

    response = stale.post(path, {"new_password": NEW_PASSWORD,
                                 "new_password_confirm": NEW_PASSWORD, "confirm": "on"})
    assert response["Location"] == reauth_url(path)
    assert get_user_model().objects.filter(pk=stale.session[AUTH_KEY]).exists()


def test_stale_make_primary_is_sent_to_reauthenticate(stale, user, second_address):
    response = stale.post("/accounts/email/", {"action": "primary", "address": second_address.pk})

    assert response["Location"] == reauth_url("/accounts/email/")
    user.refresh_from_db()
    assert user.email != "second@example.com"


@pytest.mark.parametrize("path", ["/accounts/password/change/", "/accounts/close/"])
def test_recent_session_is_not_asked(client, user, password, time_machine, path):
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    time_machine.shift(299)
    assert client.get(path).status_code == 200


def test_reauthentication_unlocks_the_action_and_returns_to_next(stale, user, password):
    page = stale.get(reauth_url("/accounts/password/change/"))
    assert page.status_code == 200
    assert b'name="next" value="/accounts/password/change/"' in page.content
    before = stale.session[RECORD_KEY]["auth_time"]

    response = stale.post(REAUTH, {"password": password, "next": "/accounts/password/change/"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/"
    assert stale.session[RECORD_KEY]["auth_time"] == before + 301
    assert stale.session[RECORD_KEY]["amr"] == ["pwd"]
    assert stale.get("/accounts/password/change/").status_code == 200
    assert stale.get("/accounts/close/").status_code == 200


def test_reauthentication_then_make_primary(stale, user, password, second_address):
    stale.post(REAUTH, {"password": password, "next": "/accounts/email/"})
    response = stale.post("/accounts/email/", {"action": "primary", "address": second_address.pk})

    assert response["Location"] == "/accounts/email/"
    user.refresh_from_db()
    assert user.email == "second@example.com"


def test_reauthentication_next_stays_on_site(stale, password):
    response = stale.post(REAUTH, {"password": password, "next": "https://evil.com/"})
    assert response["Location"] == "/accounts/"


def test_reauthentication_rotates_the_session_key(stale, password):
    before = stale.session.session_key
    stale.post(REAUTH, {"password": password})
    assert stale.session.session_key != before
    assert stale.session[AUTH_KEY]


def test_wrong_reauthentication_password_is_an_error(stale, password):
    before = stale.session[RECORD_KEY]["auth_time"]
    response = stale.post(REAUTH, {"password": "not my password at all",
                                   "next": "/accounts/close/"})

    assert response.status_code == 200
    assert b"The password is incorrect." in response.content
    assert stale.session[RECORD_KEY]["auth_time"] == before
    assert stale.get("/accounts/close/")["Location"] == reauth_url("/accounts/close/")


def test_reauthentication_is_rate_limited_html(stale, password, settings):
    # The rate limit, not the lockout: ten failures (five from each of two networks), then
    # the right password from a third.
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = 50
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_ACCOUNT_THRESHOLD = 50
    for address in ("203.0.113.1", "198.51.100.1"):
        for _ in range(5):
            response = stale.post(REAUTH, {"password": "not my password at all"},
                                  REMOTE_ADDR=address)
            assert response.status_code == 200
    response = stale.post(REAUTH, {"password": password}, REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300
    assert b"Too many attempts" in response.content
    assert stale.get("/accounts/close/").status_code == 302


def test_failed_reauthentications_meet_the_sign_in_lockout(stale, user, password):
    """A stolen session cookie is no way around the lockout: the guesses count against the
    account's address from that browser (and the account as a whole), as failed sign-ins
    do."""
    for _ in range(5):
        assert stale.post(REAUTH, {"password": "not my password at all"}).status_code == 200

    refused = stale.post(REAUTH, {"password": password})
    signing_in = stale.post("/accounts/login/", {"email": user.email, "password": password})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many failed attempts" in refused.content
    assert stale.get("/accounts/close/").status_code == 302  # still not reauthenticated
    assert signing_in.status_code == 429  # the same (address, browser) pair is locked
    assert LoginThrottle.objects.get(identifier=user.email, ip="").failures == 5


def test_a_reauthentication_clears_earlier_failures(stale, user, password):
    for _ in range(4):
        stale.post(REAUTH, {"password": "not my password at all"})

    assert stale.post(REAUTH, {"password": password}).status_code == 302
    assert not LoginThrottle.objects.filter(identifier=user.email, ip="127.0.0.1").exists()


def test_reauthentication_needs_a_session(client):
    response = client.get(REAUTH)
    assert response["Location"].startswith("/accounts/login/")


@override_settings(AUTHSUITE_ACCOUNTS_REAUTHENTICATION_TIMEOUT=30)
def test_reauthentication_timeout_is_configurable(client, user, password, time_machine):
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    time_machine.shift(29)
    assert client.get("/accounts/close/").status_code == 200
    time_machine.shift(2)
    assert client.get("/accounts/close/")["Location"] == reauth_url("/accounts/close/")


# --- API ------------------------------------------------------------------------------------

@pytest.fixture
def stale_api(client, user, password, time_machine):
    freeze(time_machine)
    signed_in_api(client, user.email, password)
    time_machine.shift(301)
    return client


def test_api_sensitive_actions_need_reauthentication(stale_api, user, password,
                                                     second_address):
    calls = [
        ("password/change/", {"current_password": password, "new_password": NEW_PASSWORD}),
        ("account/close/", {}),
        (f"emails/{second_address.pk}/primary/", {}),
    ]
    for path, data in calls:
        response = api_post(stale_api, path, data)
        assert response.status_code == 403, path
        assert error_code(response) == "reauthentication_required"
    user.refresh_from_db()
    assert user.is_active
    assert user.email != "second@example.com"
    assert not user.check_password(NEW_PASSWORD)


def test_api_reauthentication_unlocks_sensitive_actions(stale_api, user, password,
                                                        second_address):
    response = api_post(stale_api, "reauthenticate/", {"password": password})
    assert response.status_code == 200
    assert response.json()["amr"] == ["pwd"]

    assert api_post(stale_api, f"emails/{second_address.pk}/primary/").status_code == 200
    assert api_post(stale_api, "password/change/", {
        "current_password": password, "new_password": NEW_PASSWORD}).status_code == 200
    user.refresh_from_db()
    assert user.email == "second@example.com"
    assert user.check_password(NEW_PASSWORD)


def test_api_wrong_reauthentication_password(stale_api):
    response = api_post(stale_api, "reauthenticate/", {"password": "not my password at all"})
    assert response.status_code == 400
    assert error_code(response) == "password_incorrect"
    assert api_post(stale_api, "account/close/").status_code == 403


def test_api_reauthentication_is_rate_limited(stale_api, password):
    for _ in range(10):
        api_post(stale_api, "reauthenticate/", {"password": "not my password at all"})
    response = api_post(stale_api, "reauthenticate/", {"password": password})

    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 300


def test_api_reauthentication_needs_a_session(client, password):
    response = api_post(client, "reauthenticate/", {"password": password})
    assert response.status_code == 403
    assert error_code(response) == "not_authenticated"
