"""The pages and the API served over ASGI: the flows a person follows behave as under WSGI.

Every request here goes through Django's ASGI handler (``AsyncClient``), the middleware
adapted for it as uvicorn, daphne or hypercorn run it.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import EmailAddress, UserSession
from audit.models import Event
from tests.accounts.support import (
    AUTH_KEY,
    CHROME_WINDOWS,
    FIREFOX_UBUNTU,
    RECORD_KEY,
    api_get,
    api_login,
    api_post,
    is_signed_in,
    mailed,
    signed_in_html,
    without_csrf,
)
from tests.core.asgi_support import AsgiBrowser, waiting_for_second_factor
from tests.helpers import last_link, link_form, open_link

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a whole new sentence of words"
#: Headers that differ between any two requests: the request id, the time, the length of a
#: page that shows a session's own id.
VARYING = ("X-Request-ID", "Expires", "Content-Length")


def test_sign_up_verify_sign_in_sessions_sign_out(password):
    browser = AsgiBrowser("203.0.113.7", HTTP_USER_AGENT=FIREFOX_UBUNTU)
    response = browser.post(reverse("accounts:signup"), {
        "email": "Ann@Example.com", "password": password, "name": "Ann"})
    assert response["Location"] == reverse("accounts:verification_sent")
    address = EmailAddress.objects.get(email="ann@example.com")
    assert not address.verified
    # Queued after the sign-up's transaction, and sent.
    assert mailed("ann@example.com", "verify your email") == 1

    page, confirm = open_link(browser, last_link("ann@example.com"))
    assert page.status_code == 200
    assert browser.post(confirm, link_form(page, password=password)).status_code == 302
    address.refresh_from_db()
    assert address.verified

    response = browser.post(reverse("accounts:login"), {"email": "ann@example.com",
                                                        "password": password})
    assert response["Location"] == "/accounts/"
    assert browser.session[RECORD_KEY]["amr"] == ["pwd"]
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    row = UserSession.objects.get(user=address.user)
    assert (row.ip, row.user_agent, row.device) == (
        "203.0.113.7", FIREFOX_UBUNTU, row.device or "missing")
    assert row.device

    page = browser.get(reverse("accounts:sessions"))
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("no-store") or "no-store" in page["Cache-Control"]
    assert page["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in page
    assert len(page["X-Request-ID"]) == 32

    browser.post(reverse("accounts:logout"))
    assert AUTH_KEY not in browser.session
    assert UserSession.objects.get(user=address.user).end_reason == "logout"
    assert not is_signed_in(browser)
    login = Event.objects.filter(action="accounts.login.succeeded").latest("id")
    assert (login.ip, login.user_agent) == ("203.0.113.7", FIREFOX_UBUNTU)


def test_sign_in_waits_for_the_second_factor_then_takes_a_code(user, password, monkeypatch):
    browser, clock, secret = waiting_for_second_factor(user, password, monkeypatch)
    assert AUTH_KEY not in browser.session
    assert not is_signed_in(browser)
    assert browser.get("/accounts/")["Location"].startswith("/accounts/login/")

    clock.step()
    response = browser.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert response.status_code == 302
    assert browser.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert is_signed_in(browser)
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1


def test_magic_link_request_and_use(user):
    browser = AsgiBrowser()
    assert browser.post(reverse("accounts:magic_link"), {"email": user.email}).status_code == 200
    page, confirm = open_link(browser, last_link(user.email))
    assert AUTH_KEY not in browser.session
    assert browser.post(confirm, link_form(page)).status_code == 302
    assert browser.session[RECORD_KEY]["amr"] == ["email"]
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1
    # Single use.
    browser.post(reverse("accounts:logout"))
    assert browser.post(last_link(user.email)).status_code == 400


def test_ending_a_session_from_the_sessions_page(user, password):
    laptop = AsgiBrowser("203.0.113.7", HTTP_USER_AGENT=FIREFOX_UBUNTU)
    desktop = AsgiBrowser("198.51.100.20", HTTP_USER_AGENT=CHROME_WINDOWS)
    signed_in_html(laptop, user.email, password)
    signed_in_html(desktop, user.email, password)
    target = UserSession.objects.get(pk=desktop.session["_authsuite_sid"])

    page = laptop.post(reverse("accounts:sessions"), {"session": str(target.pk)}, follow=True)

    assert b"The session ended." in page.content
    assert is_signed_in(laptop)
    assert not is_signed_in(desktop)
    target.refresh_from_db()
    assert target.end_reason == "user"


def test_password_change_ends_the_other_sessions(user, password):
    laptop, phone = AsgiBrowser(), AsgiBrowser()
    signed_in_html(laptop, user.email, password)
    signed_in_html(phone, user.email, password)

    response = laptop.post(reverse("accounts:password_change"), {
        "current_password": password, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})

    assert response["Location"] == "/accounts/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert mailed(user.email, "password was changed") == 1


def test_api_sign_in_session_list_and_sign_out(user, password):
    browser = AsgiBrowser("198.51.100.20", HTTP_USER_AGENT=CHROME_WINDOWS)
    response = api_login(browser, user.email, password)
    assert response.status_code == 200
    assert response.json() == {"status": "authenticated"}

    listed = api_get(browser, "sessions/")
    assert listed.status_code == 200
    body = listed.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    assert [(r["ip"], r["current"]) for r in rows] == [("198.51.100.20", True)]

    # A browser's API call keeps to CSRF: without the token, a 403 in the envelope.
    strict = AsgiBrowser()
    strict.client.handler.enforce_csrf_checks = True
    strict.client.cookies = browser.cookies
    refused = api_post(strict, "logout/")
    assert refused.status_code == 403
    assert "error" in refused.json()

    assert api_post(browser, "logout/").status_code in (200, 204)
    assert not is_signed_in(browser)
    assert api_get(browser, "sessions/").status_code == 403


@pytest.mark.parametrize("method, path, data, extra", [
    ("get", "/accounts/login/", None, {}),
    ("post", "/accounts/login/", {"email": "nobody@example.com", "password": "wrong guess"}, {}),
    ("get", "/accounts/sessions/", None, {}),
    ("get", "/api/auth/v1/session/", None, {}),
    ("get", "/api/auth/v1/sessions/", None, {}),
    ("put", "/accounts/login/", None, {}),  # 405, before anything else
    ("get", "/accounts/login/?x=1", None, {}),
    # Bodies Django refuses to read, or cannot: a 413 and 400s that say why.
    ("post", "/accounts/login/", {f"field{i}": "x" for i in range(1001)}, {}),
    ("post", "/api/auth/v1/login/", '{"email": "' + "a" * 2_700_000 + '"}',
     {"content_type": "application/json"}),
    ("post", "/accounts/login/", "email=a",
     {"content_type": "application/x-www-form-urlencoded; charset=utf-7"}),
    ("post", "/accounts/login/", "--x\r\n", {"content_type": "multipart/form-data"}),
])
def test_the_same_answer_as_under_wsgi(method, path, data, extra, user, password):
    """Status, headers (but ``VARYING``) and cookies (their values aside) as the WSGI
    handler gives them; a refusal's page or envelope too, word for word."""

    def answer(browser):
        signed_in_html(browser, user.email, password)
        call = getattr(browser, method)
        response = call(path, data, **extra) if data is not None else call(path, **extra)
        headers = {k: v for k, v in response.items() if k not in VARYING}
        cookies = {name: {k: v for k, v in morsel.items() if k != "expires"}
                   for name, morsel in response.cookies.items()}
        refusal = without_csrf(response.content) if response.status_code >= 400 else None
        return response.status_code, headers, cookies, refusal

    assert answer(AsgiBrowser()) == answer(Client())
