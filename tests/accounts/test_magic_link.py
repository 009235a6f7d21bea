"""Magic links: entropy, storage, lifetime, single use, confirmation page, any client, no
enumeration, and the authentication record they produce."""

from __future__ import annotations

import base64
import re

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from accounts import authrecord
from accounts.models import EmailAddress, OneTimeToken
from authsuite.models import OutboxMessage
from tests.accounts.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_get,
    api_post,
    error_code,
    freeze,
    is_signed_in,
    without_csrf,
)
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, outbox_for, token_from

LINK_TOKEN_RE = re.compile(r"/(magic-link|password/reset)/[A-Za-z0-9_-]{20,}")

pytestmark = pytest.mark.django_db


def request_link(client, email: str):
    return client.post(reverse("accounts:magic_link"), {"email": email})


def link_for(client, user) -> str:
    request_link(client, user.email)
    return last_link(user.email)


def every_stored_value() -> str:
    """Every value of every table, as text, plus the decoded session contents."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            parts.extend(repr(row) for row in cursor.fetchall())
    parts.extend(repr(s.get_decoded()) for s in Session.objects.all())
    return "\n".join(parts)


# --- the token ------------------------------------------------------------------------------

def test_token_carries_256_bits(client, user):
    tokens = set()
    for _ in range(3):
        token = token_from(link_for(client, user))
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) == 32
        assert len(token) == 43
        tokens.add(token)
    assert len(tokens) == 3


def test_token_is_stored_only_as_a_keyed_digest(client, user):
    token = token_from(link_for(client, user))

    row = OneTimeToken.objects.get(user=user, purpose="magic_link")
    assert row.digest != token
    assert len(row.digest) == 64
    assert token not in every_stored_value()
    # Before delivery the outbox holds the link sealed; after delivery not at all.
    assert OutboxMessage.objects.get(template="accounts/email/magic_link").sealed_context == ""

    client.post(reverse("accounts:magic_link_confirm", kwargs={"token": token}))
    assert client.session[AUTH_KEY] == str(user.pk)
    assert token not in every_stored_value()


def test_mailed_link_points_at_the_confirmation_page(client, user):
    link = link_for(client, user)
    assert link.startswith("/accounts/magic-link/")
    message = outbox_for(user.email)[-1]
    assert "sign-in link" in message.subject
    assert message.alternatives  # an HTML part too


# --- lifetime -------------------------------------------------------------------------------

@pytest.mark.parametrize("via", ["html", "api"])
def test_link_is_valid_at_9_59(client, user, time_machine, via):
    freeze(time_machine)
    link = link_for(client, user)
    time_machine.shift(9 * 60 + 59)

    if via == "html":
        page, confirm = open_link(client, link)
        assert page.status_code == 200
        assert client.post(confirm, link_form(page)).status_code == 302
    else:
        response = api_post(client, "magic-link/confirm/", {"token": token_from(link)})
        assert response.json() == {"status": "authenticated"}
    assert is_signed_in(client)


@pytest.mark.parametrize("via", ["html", "api"])
def test_link_is_invalid_at_10_01(client, user, time_machine, via):
    freeze(time_machine)
    link = link_for(client, user)
    time_machine.shift(10 * 60 + 1)

    if via == "html":
        assert client.get(link).status_code == 400
        response = client.post(link)
        assert response.status_code == 400
        assert b"invalid, expired or already used" in response.content
    else:
        response = api_post(client, "magic-link/confirm/", {"token": token_from(link)})
        assert response.status_code == 400
        assert error_code(response) == "token_invalid"
    assert not is_signed_in(client)


@override_settings(AUTHSUITE_ACCOUNTS_MAGIC_LINK_TIMEOUT=60)
def test_lifetime_is_configurable(client, user, time_machine):
    freeze(time_machine)
    link = link_for(client, user)
    time_machine.shift(61)
    assert client.get(link).status_code == 400


# --- single use -----------------------------------------------------------------------------

def test_html_link_works_once(client, user):
    link = link_for(client, user)
    assert client.post(link).status_code == 302
    assert client.session[AUTH_KEY] == str(user.pk)

    other = Client()
    assert other.post(link).status_code == 400
    assert AUTH_KEY not in other.session


def test_api_link_works_once(client, user):
    token = token_from(link_for(client, user))
    assert api_post(client, "magic-link/confirm/", {"token": token}).status_code == 200

    other = Client()
    response = api_post(other, "magic-link/confirm/", {"token": token})
    assert response.status_code == 400
    assert error_code(response) == "token_invalid"
    assert not is_signed_in(other)


def test_newer_link_voids_the_older_one(client, user):
    older = link_for(client, user)
    newer = link_for(client, user)
    assert older != newer

    assert client.get(older).status_code == 400
    assert client.post(older).status_code == 400
    assert AUTH_KEY not in client.session
    assert client.post(newer).status_code == 302


def test_newer_link_voids_the_older_one_api(client, user):
    api_post(client, "magic-link/", {"email": user.email})
    older = token_from(last_link(user.email))
    api_post(client, "magic-link/", {"email": user.email})

    assert api_post(client, "magic-link/confirm/", {"token": older}).status_code == 400
    assert api_post(client, "magic-link/confirm/",
                    {"token": token_from(last_link(user.email))}).status_code == 200


# --- GET confirms, POST signs in ------------------------------------------------------------

def test_get_shows_a_confirmation_page_and_consumes_nothing(client, user):
    link = link_for(client, user)

    for _ in range(3):  # a mail scanner prefetching the link, then the person
        page, confirm = open_link(client, link)
        assert page.status_code == 200
        assert b"Sign in as" in page.content
        assert user.email.encode() in page.content
        assert b'method="post"' in page.content
    assert AUTH_KEY not in client.session
    assert OneTimeToken.objects.get(user=user).used_at is None

    assert client.post(confirm, link_form(page)).status_code == 302
    assert client.session[AUTH_KEY] == str(user.pk)
    assert OneTimeToken.objects.get(user=user).used_at is not None


def test_link_opens_in_another_client(client, user):
    link = link_for(client, user)
    phone = Client()

    response = phone.post(link)

    assert response.status_code == 302
    assert is_signed_in(phone)
    assert not is_signed_in(client)


def test_link_marks_the_address_verified(client):
    user = UserFactory(verified_email=False)
    with override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="optional"):
        client.post(link_for(client, user))
    assert EmailAddress.objects.get(user=user).verified is True


def test_next_is_kept_when_safe(client, user):
    link = link_for(client, user)
    assert client.post(link, {"next": "/accounts/email/"})["Location"] == "/accounts/email/"
    other_link = link_for(Client(), user)
    assert Client().post(other_link, {"next": "//evil.com"})["Location"] == "/accounts/"


# --- no enumeration -------------------------------------------------------------------------

def test_html_response_is_identical_whether_or_not_the_account_exists(client, user):
    existing = client.post(reverse("accounts:magic_link"), {"email": user.email})
    unknown = client.post(reverse("accounts:magic_link"), {"email": "nobody@example.com"})

    assert existing.status_code == unknown.status_code == 200
    normalized = without_csrf(existing.content).replace(user.email, "EMAIL")
    assert normalized == without_csrf(unknown.content).replace("nobody@example.com", "EMAIL")
    assert len(outbox_for(user.email)) == 1
    # The unknown address is told so, and gets nothing to sign in with.
    [notice] = outbox_for("nobody@example.com")
    assert "no account" in notice.subject
    assert "sign-in link" in notice.body
    assert not LINK_TOKEN_RE.search(notice.body)
    assert OneTimeToken.objects.count() == 1


def test_api_response_is_identical_whether_or_not_the_account_exists(client, user):
    existing = api_post(client, "magic-link/", {"email": user.email})
    unknown = api_post(client, "magic-link/", {"email": "nobody@example.com"})
    inactive_user = UserFactory(is_active=False)
    inactive = api_post(client, "magic-link/", {"email": inactive_user.email})

    assert existing.status_code == unknown.status_code == inactive.status_code == 202
    assert existing.json() == unknown.json() == inactive.json()
    assert [m.to for m in mail.outbox] == [[user.email], ["nobody@example.com"],
                                           [inactive_user.email]]
    # A disabled account is told so, and gets nothing to sign in with.
    [notice] = outbox_for(inactive_user.email)
    assert "disabled" in notice.subject
    assert not LINK_TOKEN_RE.search(notice.body)


@pytest.mark.parametrize("path", ["magic-link/", "password/reset/"])
def test_another_address_of_an_account_is_not_told_no_account_uses_it(client, user, path):
    # Only login addresses get links; a second address an account holds is no unknown one:
    # it is told it is not the address the account signs in with.
    EmailAddress.objects.create(user=user, email="ann.work@example.com", verified=True)

    assert api_post(client, path, {"email": "ann.work@example.com"}).status_code == 202
    [notice] = outbox_for("ann.work@example.com")
    assert "not a sign-in address" in notice.subject
    assert "no account" not in notice.body
    assert not LINK_TOKEN_RE.search(notice.body)


def test_unknown_addresses_are_not_mailed_when_turned_off(client, user, settings):
    settings.AUTHSUITE_ACCOUNTS_EMAIL_UNKNOWN_ACCOUNTS = False

    assert api_post(client, "magic-link/", {"email": "nobody@example.com"}).status_code == 202
    assert client.post(reverse("accounts:magic_link"),
                       {"email": "nobody@example.com"}).status_code == 200
    assert mail.outbox == []
    assert not OutboxMessage.objects.exists()


def test_unknown_addresses_are_rate_limited_like_real_ones(client, user, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    for email in (user.email, "nobody@example.com"):
        codes = [api_post(client, "magic-link/", {"email": email}).status_code for _ in range(4)]
        assert codes == [202] * 3 + [429]  # three per (address, IP) in 15 minutes


# --- authentication record ------------------------------------------------------------------

def test_amr_is_email_and_acr_single_factor(client, user):
    client.post(link_for(client, user))

    record = client.session[RECORD_KEY]
    assert record["amr"] == ["email"]
    assert record["acr"] == authrecord.ACR_SINGLE_FACTOR
    assert "mfa" not in record["acr"]
    state = api_get(client, "session/").json()
    assert state["auth"]["amr"] == ["email"]
    assert state["auth"]["acr"] == "urn:authsuite:acr:1fa"


def test_api_amr_is_email(client, user):
    api_post(client, "magic-link/", {"email": user.email})
    api_post(client, "magic-link/confirm/", {"token": token_from(last_link(user.email))})
    auth = api_get(client, "session/").json()["auth"]
    assert auth["amr"] == ["email"]
    assert auth["acr"] == authrecord.ACR_SINGLE_FACTOR


@pytest.mark.parametrize(("amr", "mfa"), [
    (["email", "pwd"], False),  # the password can be reset through that mailbox
    (["pwd", "email", "pwd"], False),
    (["email", "otp"], True),
    (["pwd", "otp"], True),
    (["pwd", "hwk"], True),
    (["email"], False),
])
def test_what_counts_as_two_factors(amr, mfa):
    assert ("mfa" in authrecord.combine(amr)) is mfa


def test_a_password_after_a_magic_link_is_no_second_factor(client, staff, settings, password):
    # A staff member who must use MFA, has no authenticator yet (grace period), signs in
    # with a link and then types the password: still one factor, so no MFA-only admin.
    settings.AUTHSUITE_MFA_REQUIRED = "staff"
    settings.AUTHSUITE_MFA_GRACE_PERIOD = 7 * 86400
    client.post(link_for(client, staff))
    assert client.post(reverse("accounts:reauthenticate"), {"password": password}).status_code == 302

    record = client.session[RECORD_KEY]
    assert sorted(record["amr"]) == ["email", "pwd"]
    assert record["acr"] == authrecord.ACR_SINGLE_FACTOR
    assert client.get("/admin/").status_code == 302


@override_settings(AUTHSUITE_ACCOUNTS_MAGIC_LINK_ENABLED=False)
def test_magic_links_can_be_turned_off(client, user):
    response = api_post(client, "magic-link/", {"email": user.email})
    assert response.status_code == 403
    assert error_code(response) == "magic_link_disabled"
    assert b"Email me a sign-in link" not in client.get(reverse("accounts:login")).content
    assert mail.outbox == []


@pytest.mark.parametrize("purpose", ["magic_link", "password_reset"])
def test_a_link_to_an_address_the_account_no_longer_signs_in_with_is_refused(client, user,
                                                                             purpose):
    """The suite's own address changes void the links mailed to the old address; a
    project's own code that sets the address directly does not, and the old mailbox (given
    up, perhaps someone else's now) must not hold a way into the account."""
    from accounts.flows.link_request import link_issue
    from authsuite.outbox import mail_enqueue
    from tests.helpers import last_link, token_from

    mail_enqueue(**link_issue(None, user=user, purpose=purpose))
    token = token_from(last_link(user.email))
    type(user)._default_manager.filter(pk=user.pk).update(email="ann.new@example.com")

    path, data = (("magic-link/confirm/", {"token": token}) if purpose == "magic_link" else
                  ("password/reset/confirm/", {"token": token,
                                               "new_password": "an entirely new passphrase 42"}))
    response = api_post(Client(), path, data)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_invalid"


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=[r"."])
def test_a_link_asked_for_over_http_is_https_on_a_site_served_over_https(client, user):
    # The request reaches the view over HTTP (an exempt path, a proxy that does not say it
    # was HTTPS): the token must still not cross the network in the clear.
    assert request_link(client, user.email).status_code == 200
    [message] = outbox_for(user.email)
    [(html, _mimetype)] = message.alternatives
    [href] = re.findall(r'href="([^"]+)"', html)
    assert href.startswith("https://testserver/")
    assert href in message.body
    assert "http://" not in message.body + html
