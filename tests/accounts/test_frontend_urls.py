"""Emailed links for a project's own front end (a single-page app on the JSON API).

With ``AUTHSUITE_ACCOUNTS_FRONTEND_URLS`` an email's link opens the front end with the token
in its path; the front end posts that token to the API. Every flow still works end to end,
and emails without an entry keep the suite's own pages.
"""

from __future__ import annotations

import re

import pytest
from django.core import checks
from django.test import Client, override_settings

from tests.accounts.support import api_get, api_post, error_code, is_signed_in
from tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory
from tests.helpers import outbox_for
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import ORIGIN

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"
FRONTEND_URLS = {
    "magic_link": APP + "/sign-in/link/{token}",
    "verify_email": APP + "/verify/{token}",
    "password_reset": APP + "/password/reset/{token}",
    "passkey_signup": APP + "/passkey-signup/{token}",
}
frontend = override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=FRONTEND_URLS)


def mailed_token(email: str, prefix: str) -> str:
    """The token of the last front-end link mailed to ``email``, in text and HTML alike."""
    message = outbox_for(email)[-1]
    found = re.findall(re.escape(APP + prefix) + r"([A-Za-z0-9_-]+)", message.body)
    assert found, message.body
    [(html, _)] = message.alternatives
    assert f'href="{APP}{prefix}{found[0]}"' in html
    assert "/accounts/" not in message.body  # no link to the suite's own pages
    return found[0]


@frontend
def test_magic_link_through_the_front_end(user):
    app = Client()
    assert api_post(app, "magic-link/", {"email": user.email}).status_code == 202
    token = mailed_token(user.email, "/sign-in/link/")

    response = api_post(app, "magic-link/confirm/", {"token": token})

    assert response.status_code == 200, response.content
    assert is_signed_in(app)
    assert api_get(app, "session/").json()["auth"]["amr"] == ["email"]


@frontend
def test_sign_up_and_verify_through_the_front_end():
    app = Client()
    response = api_post(app, "signup/", {"email": "ann@example.com", "password": STRONG_PASSWORD})
    assert response.status_code in (201, 202)
    token = mailed_token("ann@example.com", "/verify/")

    refused = api_post(Client(), "email/verify/", {"token": token})
    confirmed = api_post(Client(), "email/verify/", {"token": token, "password": STRONG_PASSWORD})

    assert error_code(refused) == "password_required"
    assert confirmed.status_code == 200, confirmed.content


@frontend
def test_password_reset_through_the_front_end(user):
    assert api_post(Client(), "password/reset/", {"email": user.email}).status_code == 202
    token = mailed_token(user.email, "/password/reset/")
    new = "a fresh and long passphrase"

    response = api_post(Client(), "password/reset/confirm/", {"token": token, "new_password": new})

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.check_password(new)


@frontend
@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
def test_passkey_signup_through_the_front_end():
    app = Client()
    assert api_post(app, "passkeys/signup/", {"email": "pat@example.com"}).status_code == 202
    token = mailed_token("pat@example.com", "/passkey-signup/")

    options = api_post(app, "passkeys/signup/options/", {"token": token})
    credential = SoftAuthenticator().create(options.json(), origin=ORIGIN)
    done = api_post(app, "passkeys/signup/complete/", {"token": token, "credential": credential})

    assert done.json()["status"] == "authenticated"


@override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS={"magic_link": FRONTEND_URLS["magic_link"]})
def test_emails_without_an_entry_keep_the_suites_pages():
    user = UserFactory()
    api_post(Client(), "password/reset/", {"email": user.email})
    assert "http://testserver/accounts/password/reset/" in outbox_for(user.email)[-1].body


PAGES = {
    "signup": APP + "/sign-up",
    "security": APP + "/account/security",
    "alert_preferences": APP + "/account/alerts",
}


def _hrefs(message) -> list[str]:
    [(html, _)] = message.alternatives
    return re.findall(r'href="([^"]+)"', html)


@override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=PAGES)
def test_a_notice_to_an_unknown_address_links_to_the_front_ends_sign_up():
    assert api_post(Client(), "magic-link/", {"email": "nobody@example.com"}).status_code == 202
    [message] = outbox_for("nobody@example.com")
    assert f"{APP}/sign-up\n" in message.body
    assert "/accounts/" not in message.body


@override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=PAGES)
def test_an_alert_links_to_the_front_ends_security_and_alert_pages(user):
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    for agent in (firefox, "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0.0.0 Safari/537.36"):
        response = api_post(Client(HTTP_USER_AGENT=agent), "login/",
                            {"email": user.email, "password": STRONG_PASSWORD})
        assert response.json() == {"status": "authenticated"}
    [message] = [m for m in outbox_for(user.email) if "New sign-in" in m.subject]
    assert _hrefs(message) == [PAGES["security"], PAGES["alert_preferences"]]
    assert "/accounts/" not in message.body and "/security/" not in message.body


@override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=PAGES, AUTHSUITE_BASE_URL="")
def test_the_front_ends_pages_are_linked_from_a_worker_too(user):
    """Without a request or a base URL the suite's pages have no origin to link them with;
    the front end's are absolute already."""
    from audit.alerts.config import rules
    from audit.alerts.sending import _links

    [rule] = [r for r in rules() if not r.critical][:1]
    assert _links(rule) == {"security_url": PAGES["security"],
                            "preferences_url": PAGES["alert_preferences"]}


@pytest.mark.parametrize(("urls", "debug"), [
    ({"security": "https://app.example.com/{token}"}, False),  # a page has no token
    ({"signup": "http://app.example.com/sign-up"}, False),
    ({"alert_preferences": "/account/alerts"}, False),
    ({"magic_link": "https://app.example.com/sign-in"}, False),  # no {token}
    ({"magic_link": "https://app.example.com/?token={token}"}, False),  # not in the path
    ({"magic_link": "https://app.example.com/#/{token}"}, False),  # in the fragment
    ({"magic_link": "https://app.example.com/{token}/{token}"}, False),  # twice
    ({"magic_link": "/sign-in/{token}"}, False),  # not absolute
    ({"magic_link": "javascript:alert(1)//{token}"}, False),
    ({"magic_link": "http://app.example.com/{token}"}, False),  # http in production
    ({"login": "https://app.example.com/{token}"}, False),  # not an emailed link
    ({"magic_link": "https://app.example.com/TOKEN?t={token}"}, False),
    ({"magic_link": "https://app.example.com/TOKEN#{token}"}, False),
    ({"magic_link": "https://{token}.evil.example/TOKEN"}, False),  # the host: DNS sees it
    ({"magic_link": "https://app.example.com@evil.example/{token}"}, False),  # goes to evil
    ({"magic_link": "https:///{token}"}, False),  # no host
])
def test_a_wrong_front_end_url_is_a_configuration_error(urls, debug):
    with override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=urls, DEBUG=debug):
        found = [m.id for m in checks.run_checks() if m.id == "authsuite_accounts.E010"]
    assert found == ["authsuite_accounts.E010"]


def test_good_front_end_urls_pass_the_checks():
    with override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS={**FRONTEND_URLS, **PAGES}):
        assert not [m for m in checks.run_checks() if m.id == "authsuite_accounts.E010"]
    with override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS={
            "magic_link": "http://localhost:5173/link/{token}"}, DEBUG=True):
        assert not [m for m in checks.run_checks() if m.id == "authsuite_accounts.E010"]
