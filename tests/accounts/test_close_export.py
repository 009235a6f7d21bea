"""Closing an account (after reauthentication) and exporting one's own data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.utils import timezone

from accounts import sessions
from accounts.flows.account import account_deactivate
from accounts.models import EmailAddress, OneTimeToken, UserSession
from tests.accounts.support import (
    api_get,
    api_post,
    error_code,
    freeze,
    is_signed_in,
    links_to,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory
from tests.helpers import LINK_RE, last_link, outbox_for, token_from

pytestmark = pytest.mark.django_db
User = get_user_model()
CLOSE = "/accounts/close/"
EXPORT = "/accounts/export/"


# --- close ----------------------------------------------------------------------------------

def test_html_close_deletes_and_signs_out_everywhere(user, password):
    browser, phone = Client(), Client()
    signed_in_html(browser, user.email, password)
    signed_in_api(phone, user.email, password)

    page = browser.get(CLOSE)
    assert page.status_code == 200
    unconfirmed = browser.post(CLOSE, {})
    assert unconfirmed.status_code == 200
    assert User.objects.filter(pk=user.pk).exists()

    response = browser.post(CLOSE, {"confirm": "on"})

    assert response["Location"] == "/accounts/login/"
    assert not User.objects.filter(pk=user.pk).exists()
    assert not EmailAddress.objects.filter(email=user.email).exists()
    assert not UserSession.objects.exists()
    assert not is_signed_in(browser)
    assert not is_signed_in(phone)


def test_api_close_deletes_and_signs_out(client, user, password):
    signed_in_api(client, user.email, password)

    response = api_post(client, "account/close/")

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert not is_signed_in(client)


@override_settings(AUTHSUITE_ACCOUNTS_CLOSE_ACTION="deactivate")
@pytest.mark.parametrize("via", ["html", "api"])
def test_close_can_deactivate_instead(user, password, via):
    browser, phone = Client(), Client()
    signed_in_html(browser, user.email, password)
    signed_in_html(phone, user.email, password)

    if via == "html":
        browser.post(CLOSE, {"confirm": "on"})
    else:
        assert api_post(browser, "account/close/").status_code == 204

    user.refresh_from_db()
    assert user.is_active is False
    assert not is_signed_in(browser)
    assert not is_signed_in(phone)
    assert set(UserSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        "account_closed"
    }
    # A closed account signs in no more, by any means.
    assert api_post(Client(), "login/", {"email": user.email,
                                         "password": password}).status_code == 400
    before = len(outbox_for(user.email))
    api_post(Client(), "magic-link/", {"email": user.email})
    Client().post("/accounts/password/reset/", {"email": user.email})
    # Each request gets the notice that the account is disabled, and no link.
    notices = outbox_for(user.email)[before:]
    assert [("disabled" in m.subject, LINK_RE.findall(m.body)) for m in notices] == [
        (True, []), (True, [])]


@override_settings(AUTHSUITE_ACCOUNTS_CLOSE_ACTION="deactivate")
def test_deactivated_account_cannot_use_an_earlier_link(client, user, password):
    api_post(client, "magic-link/", {"email": user.email})
    token = token_from(last_link(user.email))
    signed_in_html(client, user.email, password)
    client.post(CLOSE, {"confirm": "on"})

    response = api_post(Client(), "magic-link/confirm/", {"token": token})
    assert response.status_code == 400
    assert error_code(response) == "token_invalid"


def _links_mailed_to(user) -> dict:
    """A sign-in link and a reset link, both mailed to ``user`` and not yet used."""
    api_post(Client(), "magic-link/", {"email": user.email})
    magic = token_from(last_link(user.email))
    api_post(Client(), "password/reset/", {"email": user.email})
    reset = token_from(last_link(user.email))
    return {"magic-link/confirm/": {"token": magic},
            "password/reset/confirm/": {"token": reset, "new_password": "a new long passphrase"}}


def _reactivate(user) -> None:
    user.refresh_from_db()
    user.is_active = True
    user.save()


@pytest.mark.parametrize("how", ["flow", "save", "close", "bulk"])
def test_links_mailed_before_a_deactivation_stay_dead_when_enabled_again(
        client, user, password, settings, how):
    # Staff disable an account they think taken over, and enable it again once its owner
    # is in touch: the links mailed before (perhaps asked for by the intruder, with the
    # mailbox) must not come back to life with it.
    links = _links_mailed_to(user)
    if how == "flow":
        account_deactivate(user)
    elif how == "save":
        user.is_active = False
        user.save()
    elif how == "close":
        settings.AUTHSUITE_ACCOUNTS_CLOSE_ACTION = "deactivate"
        signed_in_html(client, user.email, password)
        client.post(CLOSE, {"confirm": "on"})
    else:
        # QuerySet.update() sends no signal: the periodic sweep catches it.
        User.objects.filter(pk=user.pk).update(is_active=False)
        sessions.sessions_expire()
    _reactivate(user)

    for path, data in links.items():
        response = api_post(Client(), path, data)
        assert response.status_code == 400, (path, response.content)
        assert error_code(response) == "token_invalid"
    assert not OneTimeToken.objects.filter(user=user, used_at__isnull=True,
                                           voided_at__isnull=True).exists()


def test_close_needs_reauthentication(client, user, password, time_machine):
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    time_machine.shift(301)

    assert client.post(CLOSE, {"confirm": "on"})["Location"].startswith("/accounts/reauthenticate/")
    assert error_code(api_post(client, "account/close/")) == "reauthentication_required"
    assert User.objects.filter(pk=user.pk).exists()

    client.post("/accounts/reauthenticate/", {"password": password})
    client.post(CLOSE, {"confirm": "on"})
    assert not User.objects.filter(pk=user.pk).exists()


def test_close_needs_a_session(client):
    assert client.get(CLOSE)["Location"].startswith("/accounts/login/")
    assert api_post(client, "account/close/").status_code == 403


# --- export ---------------------------------------------------------------------------------

@pytest.fixture
def busy_user(user, password):
    """A user with a second address, a pending token, two sessions and a neighbour."""
    EmailAddress.objects.create(user=user, email="second@example.com")
    Client().post("/accounts/password/reset/", {"email": user.email})
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) "
                                   "Gecko/20100101 Firefox/128.0")
    signed_in_html(phone, user.email, password)
    neighbour = UserFactory(email="neighbour@example.com")
    signed_in_html(Client(), neighbour.email, password)
    return user


def secrets_of(user) -> list[str]:
    values = [user.password, *OneTimeToken.objects.filter(user=user).values_list("digest",
                                                                                  flat=True)]
    values += list(UserSession.objects.filter(user=user).values_list("key_digest", flat=True))
    return [v for v in values if v]


def keys_of(data) -> set[str]:
    """Every key of every object in ``data``, however deep."""
    if isinstance(data, dict):
        return set(data).union(*(keys_of(value) for value in data.values()))
    if isinstance(data, list):
        return set().union(*(keys_of(value) for value in data))
    return set()


def test_html_export_is_own_data_without_secrets(client, busy_user, password):
    signed_in_html(client, busy_user.email, password)
    # The reset link; the new-device alert links to the security pages.
    (reset_link,) = [link for link in links_to(busy_user.email) if "/password/reset/" in link]
    token = token_from(reset_link)

    response = client.get(EXPORT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == 'attachment; filename="account.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["user"]["email"] == busy_user.email
    assert data["user"]["id"] == str(busy_user.pk)
    assert {a["email"] for a in data["email_addresses"]} == {busy_user.email, "second@example.com"}
    assert len(data["sessions"]) == 2
    assert "Firefox 128 on Ubuntu" in {s["device"] for s in data["sessions"]}

    text = response.content.decode()
    assert "neighbour@example.com" not in text
    # No field of a password or a digest (the mail's subjects may say "password").
    assert not {key for key in keys_of(data) if "password" in key or "digest" in key}
    assert password not in text
    assert token not in text
    for secret in [*secrets_of(busy_user), client.session.session_key]:
        assert secret not in text


def test_api_export_matches(client, busy_user, password):
    signed_in_api(client, busy_user.email, password)

    response = api_get(client, "account/export/")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"exported_at", "user", "email_addresses", "sessions", "mfa", "passkeys",
                         "mail", "sign_in_failures", "security_activity", "alerts"}
    # A user model that signs in by username also exports the username.
    by_username = {"username"} if User.get_email_field_name() != User.USERNAME_FIELD else set()
    assert set(data["user"]) == {"id", "email", "name", "date_joined", "last_login", "is_active",
                                 *by_username}
    assert all(set(s) == {"device", "ip", "created_at", "last_seen_at", "ended_at"}
               for s in data["sessions"])
    text = response.content.decode()
    for secret in [*secrets_of(busy_user), client.session.session_key]:
        assert secret not in text
    assert "neighbour@example.com" not in text


def test_export_holds_each_apps_section_without_secrets(client, user, password):
    import base64

    from mfa.models import RecoveryCode, TrustedBrowser
    from tests.mfa.support import enroll
    from tests.passkeys.support import add_passkey, password_client

    passkey = add_passkey(password_client(user, password))
    _secret, codes = enroll(user)
    TrustedBrowser.objects.create(user=user, digest="f" * 64, device="Firefox 128 on Ubuntu",
                                  ip="203.0.113.5",
                                  expires_at=timezone.now() + timedelta(days=30))
    client.force_login(user)  # a second factor is set up now: the sign-in itself is tested apart

    response = api_get(client, "account/export/")

    data = response.json()
    assert [d["name"] for d in data["mfa"]["authenticator_apps"]] == ["Authenticator app"]
    assert data["mfa"]["recovery_codes"]["remaining"] == len(codes)
    assert [t["device"] for t in data["mfa"]["trusted_browsers"]] == ["Firefox 128 on Ubuntu"]
    assert [p["name"] for p in data["passkeys"]] == [passkey.name]
    text = response.content.decode()
    secrets = [*codes, *RecoveryCode.objects.values_list("digest", flat=True), "f" * 64,
               passkey.credential_id, base64.b64encode(bytes(passkey.public_key)).decode(),
               *user.totpdevice_set.values_list("sealed_key", flat=True)]
    for secret in secrets:
        assert secret not in text


def test_export_needs_a_session(client):
    assert client.get(EXPORT)["Location"].startswith("/accounts/login/")
    assert api_get(client, "account/export/").status_code == 403
