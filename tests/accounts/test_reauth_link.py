"""Reauthentication for an account without a password: a link emailed to the signed-in user
that works once, briefly, and only in the browser that asked for it, signed in as them."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts.authrecord import SESSION_KEY as RECORD_KEY
from accounts.models import OneTimeToken
from tests.accounts.support import api_get, api_post, error_code, freeze
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, outbox_for, token_from

pytestmark = pytest.mark.django_db
REAUTH = "/accounts/reauthenticate/"
CLOSE = "/accounts/close/"


def signed_in_by_link(client, user) -> None:
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    page, confirm = open_link(client, last_link(user.email))
    assert client.post(confirm, link_form(page)).status_code == 302


@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


@pytest.fixture
def passwordless(db):
    return UserFactory(email="nopass@example.com", password=None)


@pytest.fixture
def stale(client, passwordless, clock):
    """Signed in by emailed link more than five minutes ago."""
    signed_in_by_link(client, passwordless)
    clock.shift(301)
    assert client.get(CLOSE)["Location"].startswith(REAUTH)
    return client


def ask(client, next_path=CLOSE):
    return client.post(f"{REAUTH}?next={quote(next_path, safe='')}", {"next": next_path})


def test_the_page_offers_a_link_to_an_account_without_a_password(stale):
    page = stale.get(REAUTH)
    assert b"Email me a link" in page.content
    assert b'name="password"' not in page.content


def test_the_link_unlocks_the_action_in_the_browser_that_asked(stale, passwordless, clock):
    before = stale.session[RECORD_KEY]["auth_time"]
    response = ask(stale)
    assert response.status_code == 302
    assert b"Open it in this browser" in stale.get(REAUTH).content

    page, confirm = open_link(stale, last_link(passwordless.email))
    assert page.status_code == 200
    assert b"Continue as" in page.content
    done = stale.post(confirm, link_form(page))

    assert done.status_code == 302
    assert done["Location"] == CLOSE
    assert stale.session[RECORD_KEY]["auth_time"] > before
    assert stale.session[RECORD_KEY]["amr"] == ["email"]
    assert stale.get(CLOSE).status_code == 200
    assert OneTimeToken.objects.get(purpose="reauthenticate").used_at is not None


def test_the_link_is_no_use_in_another_browser(stale, passwordless):
    ask(stale)
    link = last_link(passwordless.email)

    anonymous = Client().get(link)
    other = Client()
    other.force_login(UserFactory())
    someone_else = other.get(link)
    same_account_other_browser = Client()
    signed_in_by_link(same_account_other_browser, passwordless)
    mail_count = len(outbox_for(passwordless.email))
    elsewhere = same_account_other_browser.get(link)

    for response in (anonymous, someone_else, elsewhere):
        assert response.status_code == 400
        assert b"another browser or account" in response.content
    assert len(outbox_for(passwordless.email)) == mail_count
    # Still usable where it was asked for.
    page, confirm = open_link(stale, link)
    assert stale.post(confirm, link_form(page)).status_code == 302


def test_the_link_works_once_and_expires(stale, passwordless, clock):
    ask(stale)
    link = last_link(passwordless.email)
    page, confirm = open_link(stale, link)
    assert stale.post(confirm, link_form(page)).status_code == 302
    assert stale.get(link).status_code == 400

    clock.shift(301)
    ask(stale)
    clock.shift(601)  # MAGIC_LINK_TIMEOUT
    assert stale.get(last_link(passwordless.email)).status_code == 400


def test_a_newer_link_voids_the_older(stale, passwordless):
    ask(stale)
    older = last_link(passwordless.email)
    ask(stale)
    assert stale.get(older).status_code == 400
    page, confirm = open_link(stale, last_link(passwordless.email))
    assert stale.post(confirm, link_form(page)).status_code == 302


def test_an_account_with_a_password_uses_it(client, user, password, clock):
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    clock.shift(301)
    assert b'name="password"' in client.get(REAUTH).content
    response = api_post(client, "reauthenticate/link/")
    assert response.status_code == 409
    assert error_code(response) == "use_password"
    assert outbox_for(user.email) == []


def test_api_reauthentication_by_link(client, passwordless, clock):
    signed_in_by_link(client, passwordless)
    clock.shift(301)
    assert error_code(api_post(client, "account/close/", {})) == "reauthentication_required"

    assert api_post(client, "reauthenticate/link/").status_code == 202
    token = token_from(last_link(passwordless.email))
    assert error_code(api_post(Client(), "reauthenticate/link/confirm/", {"token": token})) == (
        "not_authenticated")
    record = api_post(client, "reauthenticate/link/confirm/", {"token": token})

    assert record.status_code == 200
    assert record.json()["amr"] == ["email"]
    # The record as the password's reauthentication answers it, no bookkeeping of the session's.
    assert set(record.json()) == {"auth_time", "amr", "acr"}
    assert api_get(client, "session/").json()["auth"]["auth_time"] == record.json()["auth_time"]
    again = api_post(client, "reauthenticate/link/confirm/", {"token": token})
    assert error_code(again) == "token_invalid"


def test_asking_counts_with_the_accounts_sign_in_links(stale, passwordless):
    """The magic-link limits: 3 links per (address, network) in a 15-minute window, the
    sign-in link included when it fell in the same window (it was sent 301 s earlier)."""
    codes = [ask(stale).status_code for _ in range(4)]
    sent = codes.count(302)
    assert sent in (2, 3) and codes == [302] * sent + [429] * (4 - sent)
    assert len(outbox_for(passwordless.email)) == 1 + sent


@override_settings(AUTHSUITE_ACCOUNTS_MAGIC_LINK_ENABLED=False)
def test_no_link_when_emailed_links_are_off(client, passwordless):
    client.force_login(passwordless)
    assert b"Email me a link" not in client.get(REAUTH).content
    assert error_code(api_post(client, "reauthenticate/link/")) == "magic_link_disabled"
