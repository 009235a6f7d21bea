"""An emailed link's token never leaves its URL as a ``Referer``.

The first GET of a live link moves the token out of the URL (``test_links``). Every other
answer at a URL holding a token (a used or forged link's page, a rate limit's, a form posted
straight to the link with an error in it) was rendered under the site's ``Referrer-Policy:
same-origin``: the page's scripts and styles, and any page of the site a link on it leads to,
were asked for with the token in their ``Referer``, for the site's access logs and whatever
CDN or proxy stands in front of it. They now answer ``strict-origin``: the origin, never the
path.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.accounts.support import freeze
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, token_from

pytestmark = pytest.mark.django_db

PATHLESS = "strict-origin"
NEW_PASSWORD = "a brand new passphrase 2026"
#: Each link kind's URL with a token no link carried.
FORGED = {
    "magic_link": reverse("accounts:magic_link_confirm", kwargs={"token": "A" * 43}),
    "password_reset": reverse("accounts:password_reset_confirm", kwargs={"token": "A" * 43}),
    "verify_email": reverse("accounts:email_verify", kwargs={"token": "A" * 43}),
    "reauthenticate": reverse("accounts:reauthenticate_confirm", kwargs={"token": "A" * 43}),
    "passkey_signup": reverse("passkeys:signup_complete", kwargs={"token": "A" * 43}),
}


@pytest.fixture
def account(db):
    return UserFactory()


def reset_link(client, account) -> str:
    client.post(reverse("accounts:password_reset"), {"email": account.email})
    return last_link(account.email)


@pytest.mark.parametrize("kind", list(FORGED))
@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
def test_a_dead_links_page_sends_no_path(client, account, kind):
    client.force_login(account)  # the reauthentication link is refused signed out
    response = client.get(FORGED[kind])
    assert response.status_code == 400
    assert response["Referrer-Policy"] == PATHLESS


def test_the_first_get_of_a_live_link_sends_no_path_either(client, account):
    response = client.get(reset_link(client, account))
    assert response.status_code == 302
    assert response["Referrer-Policy"] == PATHLESS


def test_a_form_posted_straight_to_the_link_shows_its_errors_without_the_path(client, account):
    link = reset_link(client, account)
    response = client.post(link, {"new_password": NEW_PASSWORD, "new_password_confirm": "other"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response["Referrer-Policy"] == PATHLESS


def test_a_rate_limited_live_link_sends_no_path(client, account, settings, time_machine):
    freeze(time_machine)
    link = reset_link(client, account)
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"token_confirm": {"ip": "1/5m"}}
    assert client.get(FORGED["password_reset"]).status_code == 400
    response = client.get(link)
    assert response.status_code == 429
    assert response["Referrer-Policy"] == PATHLESS


def test_a_method_the_link_does_not_take_sends_no_path(client, account):
    response = client.put(reset_link(client, account))
    assert response.status_code == 405
    assert response["Referrer-Policy"] == PATHLESS


@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
def test_the_passkey_sign_up_page_sends_no_path_either(client):
    """The page, its token out of its URL, loads its script and the site's styles from the
    site itself."""
    client.post(reverse("passkeys:signup"), {"email": "newcomer@example.com"})
    link = last_link("newcomer@example.com")
    opened = client.get(link)
    assert opened.status_code == 302
    assert opened["Referrer-Policy"] == PATHLESS
    response = client.get(opened["Location"])
    assert response.status_code == 200
    assert token_from(link).encode() not in response.content
    assert b'<script src="/static/' in response.content
    assert response["Referrer-Policy"] == PATHLESS


def test_the_confirmation_page_without_a_token_keeps_a_pathless_policy(client, account):
    page, url = open_link(client, reset_link(client, account))
    assert page.status_code == 200
    assert page["Referrer-Policy"] == PATHLESS


def test_the_form_of_such_a_page_passes_the_csrf_check_over_https(account):
    """What ``strict-origin`` leaves a form posted over HTTPS: the ``Origin`` and a
    ``Referer`` of the origin alone, which Django's CSRF check accepts (``no-referrer``
    would have the browser send ``Origin: null``, which it refuses)."""
    link = reset_link(Client(), account)
    client = Client(enforce_csrf_checks=True)
    page, url = open_link(client, link)
    token = client.cookies["csrftoken"].value
    form = link_form(page, new_password=NEW_PASSWORD, new_password_confirm=NEW_PASSWORD,
                     csrfmiddlewaretoken=token)
    response = client.post(url, form, secure=True, HTTP_ORIGIN="https://testserver",
                           HTTP_REFERER="https://testserver/")
    assert response.status_code == 302, response.status_code
    refused = Client(enforce_csrf_checks=True).post(
        url, {"csrfmiddlewaretoken": token}, secure=True, HTTP_ORIGIN="null")
    assert refused.status_code == 403


@pytest.mark.parametrize(("policy", "answered"), [
    ("no-referrer", "no-referrer"),
    (["origin", "strict-origin"], "origin,strict-origin"),
    ("same-origin", PATHLESS),
    ("no-referrer, unsafe-url", PATHLESS),
    (None, PATHLESS),
])
def test_a_pathless_policy_of_the_sites_own_is_kept(db, settings, policy, answered):
    settings.SECURE_REFERRER_POLICY = policy
    assert Client().get(FORGED["password_reset"])["Referrer-Policy"] == answered


def test_pages_without_a_token_keep_the_sites_policy(client):
    assert client.get(reverse("accounts:login"))["Referrer-Policy"] == "same-origin"
    assert client.get(reverse("accounts:password_reset"))["Referrer-Policy"] == "same-origin"
