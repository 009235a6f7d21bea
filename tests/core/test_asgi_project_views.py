"""A project's own views beside the suite's, served over ASGI: an ``async def`` view that
asks ``await request.auser()`` sees the session as the suite's rules leave it, as a plain
view sees ``request.user``; Django's async ``aauthenticate``/``alogin``/``alogout`` keep
to the suite's rules as their synchronous forms do."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import PasswordRehash, UserSession
from audit.models import Event
from tests.accounts.support import (
    AUTH_KEY,
    CountingHasher,
    freeze,
    is_signed_in,
    signed_in_html,
)
from tests.core.asgi_support import AsgiBrowser, waiting_for_second_factor

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_project_views")]
VIEWS = ["async", "sync"]


def whoami(browser, kind: str) -> dict:
    response = browser.get(f"/project/whoami/{kind}/")
    assert response.status_code == 200
    return response.json()


def project_sign_in(browser, kind: str, email: str, password: str):
    return browser.post(f"/project/sign-in/{kind}/",
                        json.dumps({"email": email, "password": password}),
                        content_type="application/json")


def signed_in(user, password) -> AsgiBrowser:
    browser = AsgiBrowser()
    signed_in_html(browser, user.email, password)
    return browser


ANONYMOUS = {"authenticated": False, "id": None}


@pytest.mark.parametrize("kind", VIEWS)
def test_a_signed_in_session_is_its_user(user, password, kind):
    assert whoami(signed_in(user, password), kind) == {"authenticated": True, "id": user.pk}


@pytest.mark.parametrize("kind", VIEWS)
def test_a_session_ended_from_the_sessions_page_is_anonymous(user, password, kind):
    laptop, phone = signed_in(user, password), signed_in(user, password)
    ended = phone.session["_authsuite_sid"]
    laptop.post(reverse("accounts:sessions"), {"session": str(ended)})

    assert whoami(phone, kind) == ANONYMOUS
    assert AUTH_KEY not in phone.session
    assert whoami(laptop, kind)["authenticated"]


@pytest.mark.parametrize("kind", VIEWS)
def test_an_idle_session_is_anonymous(user, password, kind, time_machine):
    freeze(time_machine)
    browser = signed_in(user, password)
    time_machine.shift(3601)

    assert whoami(browser, kind) == ANONYMOUS
    assert UserSession.objects.get(user=user).end_reason == "idle_timeout"


@pytest.mark.parametrize("kind", VIEWS)
def test_a_disabled_account_is_anonymous(user, password, kind):
    browser = signed_in(user, password)
    # A bulk update: no save signal ends the sessions, the next request does.
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    assert whoami(browser, kind) == ANONYMOUS
    assert UserSession.objects.get(user=user).end_reason == "deactivated"
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    assert whoami(browser, kind) == ANONYMOUS  # ended for good


@pytest.mark.parametrize("kind", VIEWS)
def test_a_sign_in_waiting_for_its_second_factor_is_anonymous(user, password, kind,
                                                              monkeypatch):
    browser, clock, secret = waiting_for_second_factor(user, password, monkeypatch)

    assert whoami(browser, kind) == ANONYMOUS

    clock.step()
    browser.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert whoami(browser, kind) == {"authenticated": True, "id": user.pk}


# --- a project's own sign-in and sign-out ----------------------------------------------------

@pytest.mark.parametrize("kind", VIEWS)
def test_a_project_sign_in_finds_the_account_as_the_suite_does(user, password, kind):
    browser = AsgiBrowser("203.0.113.9")
    response = project_sign_in(browser, kind, user.email.upper(), password)

    assert response.status_code == 200, response.content
    assert whoami(browser, kind) == {"authenticated": True, "id": user.pk}
    # Tracked from its first request on, as a sign-in outside the pipeline is.
    row = UserSession.objects.get(user=user, ended_at__isnull=True)
    assert row.ip == "203.0.113.9"
    # Django's signals, sent by alogin as by login, are recorded with the request's context.
    event = Event.objects.get(action="auth.login.succeeded")
    assert (event.actor_id, event.ip) == (str(user.pk), "203.0.113.9")


@pytest.mark.parametrize("kind", VIEWS)
def test_a_refused_project_sign_in_is_recorded_with_its_address(user, kind):
    response = project_sign_in(AsgiBrowser("203.0.113.10"), kind, user.email, "wrong guess")
    assert response.status_code == 400
    event = Event.objects.get(action="auth.login.failed")
    assert event.ip == "203.0.113.10"


@pytest.mark.parametrize("kind", VIEWS)
def test_a_project_sign_in_refuses_an_overlong_password_unhashed(user, kind, settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.support.CountingHasher"]
    CountingHasher.calls = 0
    response = project_sign_in(AsgiBrowser(), kind, user.email, "x" * 5000)
    assert response.status_code == 400
    assert CountingHasher.calls == 0


@pytest.mark.parametrize("kind", VIEWS)
def test_a_project_sign_in_that_rehashes_keeps_the_other_sessions(user, password, kind,
                                                                  settings):
    phone = signed_in(user, password)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 1

    assert project_sign_in(AsgiBrowser(), kind, user.email, password).status_code == 200

    assert PasswordRehash.objects.filter(user=user).count() == 1
    assert is_signed_in(phone)


@pytest.mark.parametrize("kind", VIEWS)
def test_a_project_sign_out(user, password, kind):
    browser = AsgiBrowser()
    project_sign_in(browser, kind, user.email, password)
    assert whoami(browser, kind)["authenticated"]
    row = UserSession.objects.get(user=user)

    response = browser.post(f"/project/sign-out/{kind}/")

    assert response.json() == ANONYMOUS
    assert whoami(browser, kind) == ANONYMOUS
    # Ended as the suite's own sign-out ends it: neither listed nor counted any more.
    row.refresh_from_db()
    assert (row.ended_at is not None, row.end_reason) == (True, "logout")
