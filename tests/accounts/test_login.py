"""Password sign-in: email case, "keep me signed in", one generic error, hashing for unknown
users, and where the browser goes afterwards."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from accounts import authrecord
from tests.accounts.support import (
    AUTH_KEY,
    RECORD_KEY,
    CountingHasher,
    api_login,
    error_code,
    html_login,
    is_signed_in,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
COUNTING = ["tests.accounts.support.CountingHasher"]


def form_errors(response) -> list[str]:
    return re.findall(r'<div class="errors" role="alert"[^>]*><p>(.*?)</p>',
                      response.content.decode())


@pytest.mark.parametrize("typed", ["{email}", "{upper}", "  {mixed}  "])
def test_html_login_by_email_is_case_insensitive(client, user, password, typed):
    email = typed.format(email=user.email, upper=user.email.upper(), mixed=user.email.title())
    response = html_login(client, email, password)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    assert client.session[AUTH_KEY] == str(user.pk)


def test_api_login_by_email_is_case_insensitive(client, user, password):
    response = api_login(client, user.email.upper(), password)

    assert response.status_code == 200
    assert response.json() == {"status": "authenticated"}
    assert is_signed_in(client)


def test_login_sets_the_authentication_record(client, user, password):
    signed_in_html(client, user.email, password)
    record = client.session[RECORD_KEY]
    assert record["amr"] == ["pwd"]
    assert record["acr"] == authrecord.ACR_SINGLE_FACTOR
    assert abs(record["auth_time"] - authrecord.now()) <= 5


# --- keep me signed in ----------------------------------------------------------------------

def test_without_remember_the_session_ends_with_the_browser(client, user, password):
    response = html_login(client, user.email, password)

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""
    assert client.session.get_expire_at_browser_close() is True


def test_remember_keeps_the_session_for_the_remember_timeout(client, user, password):
    response = html_login(client, user.email, password, remember="on")

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == 30 * 86400
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 30 * 86400


@override_settings(AUTHSUITE_ACCOUNTS_REMEMBER_ABSOLUTE_TIMEOUT=7200)
def test_remember_timeout_is_configurable_api(client, user, password):
    response = api_login(client, user.email, password, remember=True)

    assert int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) == 7200
    assert client.session.get_expiry_age() == 7200


def test_api_without_remember_is_a_browser_session(client, user, password):
    response = api_login(client, user.email, password)
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""
    assert client.session.get_expire_at_browser_close() is True


# --- one generic error ----------------------------------------------------------------------

def test_html_error_is_identical_for_unknown_user_and_wrong_password(client, user):
    unknown = html_login(client, "nobody@example.com", "whatever password 1")
    wrong = html_login(client, user.email, "whatever password 1")

    assert unknown.status_code == wrong.status_code == 200
    assert form_errors(unknown) == form_errors(wrong) == [
        "The email address or password is incorrect."
    ]
    assert AUTH_KEY not in client.session


def test_api_error_is_identical_for_unknown_user_and_wrong_password(client, user):
    unknown = api_login(client, "nobody@example.com", "whatever password 1")
    wrong = api_login(client, user.email, "whatever password 1")

    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()
    assert error_code(unknown) == "invalid_credentials"


def test_inactive_user_gets_the_same_generic_error(client, password):
    inactive = UserFactory(is_active=False)
    response = api_login(client, inactive.email, password)
    assert response.status_code == 400
    assert error_code(response) == "invalid_credentials"
    assert form_errors(html_login(client, inactive.email, password)) == [
        "The email address or password is incorrect."
    ]


@pytest.mark.parametrize("via", ["html", "api"])
def test_unknown_user_still_costs_a_password_hash(client, via):
    with override_settings(PASSWORD_HASHERS=COUNTING):
        user = UserFactory(password="the right passphrase")
        login = html_login if via == "html" else api_login

        CountingHasher.calls = 0
        login(client, "nobody@example.com", "a wrong passphrase")
        unknown_cost = CountingHasher.calls

        CountingHasher.calls = 0
        login(client, user.email, "a wrong passphrase")
        wrong_password_cost = CountingHasher.calls

    assert unknown_cost >= 1
    assert unknown_cost == wrong_password_cost


# --- next -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("//evil.com", "/accounts/"),
        ("https://evil.com", "/accounts/"),
        ("https://evil.com/accounts/", "/accounts/"),
        ("///evil.com", "/accounts/"),
        ("javascript:alert(1)", "/accounts/"),
        ("/accounts/email/", "/accounts/email/"),
        ("http://testserver/accounts/sessions/", "http://testserver/accounts/sessions/"),
    ],
)
def test_next_is_followed_only_within_allowed_hosts(client, user, password, next_url, expected):
    response = html_login(client, user.email, password, next=next_url)
    assert response.status_code == 302
    assert response["Location"] == expected


def test_next_from_the_query_string_reaches_the_form(client, user, password):
    page = client.get(reverse("accounts:login") + "?next=/accounts/email/")
    assert b'name="next" value="/accounts/email/"' in page.content
    evil = client.get(reverse("accounts:login") + "?next=//evil.com")
    assert b"evil.com" not in evil.content


def test_login_required_page_round_trip(client, user, password):
    response = client.get(reverse("accounts:sessions"))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/sessions/"

    response = html_login(client, user.email, password, next="/accounts/sessions/")
    assert response["Location"] == "/accounts/sessions/"
    assert client.get("/accounts/sessions/").status_code == 200


def test_logout_get_asks_post_signs_out(client, user, password):
    signed_in_api(client, user.email, password)
    assert client.get(reverse("accounts:logout")).status_code == 200
    assert is_signed_in(client)
    client.post(reverse("accounts:logout"))
    assert not is_signed_in(client)


@pytest.mark.parametrize("setting,expected", [
    (None, "/accounts/login/"), ("accounts:magic_link", "/accounts/magic-link/"),
    ("/elsewhere/", "/elsewhere/")])
def test_sign_out_goes_to_logout_redirect_url(client, user, password, settings, setting,
                                              expected):
    """Django's LOGOUT_REDIRECT_URL, a URL name or a path; the sign-in page without it."""
    settings.LOGOUT_REDIRECT_URL = setting
    signed_in_api(client, user.email, password)

    assert client.post(reverse("accounts:logout"))["Location"] == expected


def test_sign_out_goes_to_a_safe_next(client, user, password):
    signed_in_api(client, user.email, password)
    response = client.post(reverse("accounts:logout") + "?next=https://evil.example/")
    assert response["Location"] == settings.LOGOUT_REDIRECT_URL

    signed_in_api(client, user.email, password)
    response = client.post(reverse("accounts:logout"), {"next": "/accounts/email/"})
    assert response["Location"] == "/accounts/email/"


@override_settings(AUTHSUITE_ACCOUNTS_LOGIN_REDIRECT_URL="/accounts/sessions/")
def test_login_redirect_url_is_configurable(client, user, password):
    assert html_login(client, user.email, password)["Location"] == "/accounts/sessions/"
    other = html_login(Client(), user.email, password, next="/accounts/email/")
    assert other["Location"] == "/accounts/email/"


def test_without_a_redirect_setting_a_sign_in_goes_to_the_account_page(client, user, password,
                                                                       settings):
    from django.conf import global_settings

    settings.LOGIN_REDIRECT_URL = global_settings.LOGIN_REDIRECT_URL  # /accounts/profile/
    assert html_login(client, user.email, password)["Location"] == reverse("accounts:profile")


@pytest.mark.parametrize("setting", ["accounts:sessions", "/accounts/sessions/"])
def test_the_redirect_setting_is_resolved_only_when_no_next_is_given(
        client, user, password, settings, monkeypatch, setting):
    from django import shortcuts

    settings.LOGIN_REDIRECT_URL = setting
    resolved = []
    real_resolve_url = shortcuts.resolve_url

    def resolve_url(to, *args, **kwargs):
        if to == setting:
            resolved.append(to)
        return real_resolve_url(to, *args, **kwargs)

    monkeypatch.setattr(shortcuts, "resolve_url", resolve_url)

    with_next = html_login(client, user.email, password, next="/accounts/email/")
    assert with_next["Location"] == "/accounts/email/"
    assert resolved == []

    without = html_login(Client(), user.email, password)
    assert without["Location"] == "/accounts/sessions/"
    assert resolved == [setting]


@pytest.mark.parametrize("setting", [
    {"LOGIN_REDIRECT_URL": "dashboard"},  # the project's own URL name, not routed here
    {"AUTHSUITE_ACCOUNTS_LOGIN_REDIRECT_URL": "home:index"},
])
def test_a_safe_next_is_followed_whatever_the_redirect_setting_names(
        client, user, password, settings, setting):
    for name, value in setting.items():
        setattr(settings, name, value)

    response = html_login(client, user.email, password, next="/accounts/sessions/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"
    assert is_signed_in(client)


def test_djangos_login_redirect_url_is_followed_and_a_url_name_resolved(client, user, password,
                                                                        settings):
    settings.LOGIN_REDIRECT_URL = "accounts:sessions"
    assert html_login(client, user.email, password)["Location"] == reverse("accounts:sessions")
