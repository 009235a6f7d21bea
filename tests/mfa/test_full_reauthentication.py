"""A session that proved two factors proves two again before a sensitive action (ASVS 5.0
7.5.1): a stolen cookie plus a phished password must not remove the factor meant to stop
them. A session that proved one factor reauthenticates with one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mfa import devices
from mfa.models import TOTPDevice
from tests.mfa.support import api_delete, api_post, enroll, error_code, login, record

pytestmark = pytest.mark.django_db

REMOVE = reverse("mfa:totp_remove")
REAUTH = reverse("accounts:reauthenticate")


def second_step_then_removal(client, reauth_url: str, user, clock, secret: str) -> None:
    """The reauthentication page at ``reauth_url`` asks for the second factor, not for the
    password again (no loop); with a code the app's removal then goes through."""
    page = client.get(reauth_url).content.decode()
    assert "confirm your second step too" in page
    assert 'name="password"' not in page
    challenge = f'{reverse("mfa:challenge")}?next={REMOVE}'
    assert f'href="{challenge}"' in page

    clock.step()
    response = client.post(challenge, {"code": clock.code(secret)})
    assert response["Location"] == REMOVE
    assert client.get(REMOVE).status_code == 200
    assert client.post(REMOVE).status_code == 302
    assert not devices.has_mfa(user)


def test_a_password_alone_does_not_remove_the_app(two_factor_session, password, later):
    client, _secret, _codes = two_factor_session
    later()

    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200
    response = api_delete(client, "mfa/totp/")

    assert response.status_code == 403
    assert error_code(response) == "second_factor_required"
    assert "second factor" in response.json()["error"]["message"]
    assert TOTPDevice.objects.filter(confirmed=True).exists()


def test_the_password_and_a_code_do(two_factor_session, user, password, clock, later):
    client, secret, _codes = two_factor_session
    later()

    api_post(client, "reauthenticate/", {"password": password})
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200

    assert api_delete(client, "mfa/totp/").status_code == 204
    assert not devices.has_mfa(user)


def test_a_code_proven_long_before_the_password_is_not_recent(two_factor_session, password,
                                                              clock, later):
    client, secret, _codes = two_factor_session
    later(200)
    clock.step()
    api_post(client, "mfa/challenge/", {"code": clock.code(secret)})  # at 200 s
    later(200)  # the code is 200 s old, the sign-in's password 400 s

    api_post(client, "reauthenticate/", {"password": password})
    later(200)  # now the code is 400 s old: only the password is recent

    assert api_post(client, "mfa/recovery-codes/").status_code == 403


def test_a_session_that_proved_one_factor_reauthenticates_with_one(client, user, password,
                                                                   later):
    assert api_post(client, "login/", {"email": user.email,
                                       "password": password}).status_code == 200
    later()
    api_post(client, "reauthenticate/", {"password": password})

    assert api_post(client, "mfa/totp/setup/").status_code == 200


def test_the_page_asks_for_the_password_then_for_the_second_factor(two_factor_session, user,
                                                                   password, clock, later):
    client, secret, _codes = two_factor_session
    later()

    response = client.get(REMOVE)
    assert response["Location"] == f"{REAUTH}?next={REMOVE.replace('/', '%2F')}"
    response = client.post(REAUTH, {"password": password, "next": REMOVE})
    assert response["Location"] == REMOVE
    response = client.get(REMOVE)
    assert response["Location"].startswith(REAUTH)
    second_step_then_removal(client, response["Location"], user, clock, secret)


def test_a_factor_removed_since_the_sign_in_is_not_asked_for(two_factor_session, user,
                                                             password, later):
    client, _secret, _codes = two_factor_session
    assert api_delete(client, "mfa/totp/").status_code == 204  # within the first 300 s
    later()

    api_post(client, "reauthenticate/", {"password": password})

    assert api_post(client, "mfa/totp/setup/").status_code == 200


def test_a_recent_code_with_a_stale_password_asks_for_the_password(two_factor_session,
                                                                   password, clock, later):
    client, secret, _codes = two_factor_session
    later(200)
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200
    later(200)  # the password is 400 s old, the code 200 s

    page = client.get(f"{REAUTH}?next={REMOVE}").content.decode()
    assert 'name="password"' in page and "second step" not in page
    response = api_delete(client, "mfa/totp/")
    assert response.status_code == 403 and "password" in response.json()["error"]["message"]
    api_post(client, "reauthenticate/", {"password": password})
    assert api_delete(client, "mfa/totp/").status_code == 204


def test_the_api_shows_the_record_without_when_each_factor_was_proven(two_factor_session,
                                                                      clock):
    client, secret, _codes = two_factor_session
    clock.step()

    body = api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).json()

    assert set(body) == {"auth_time", "amr", "acr"}


# --- a second factor added after a one-factor sign-in ---------------------------------------
# A session that signed in with the password alone (the account had no second factor, or a
# trusted browser skipped it) must not remove a factor added since with the password alone:
# whoever holds that cookie and the password is who the owner added the factor against.


def _password_sign_in(client, user, password):
    assert api_post(client, "login/", {"email": user.email,
                                       "password": password}).status_code == 200
    assert record(client)["amr"] == ["pwd"]


def test_an_app_added_since_a_password_sign_in_is_asked_for_over_the_api(client, user, password,
                                                                         clock, later):
    _password_sign_in(client, user, password)
    secret, _codes = enroll(user)  # the owner, on another device

    # Even with the sign-in's password still recent, the app is not removed.
    response = api_delete(client, "mfa/totp/")
    assert response.status_code == 403
    assert error_code(response) == "second_factor_required"
    assert "second factor" in response.json()["error"]["message"]

    later()
    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200
    response = api_delete(client, "mfa/totp/")

    assert response.status_code == 403
    assert error_code(response) == "second_factor_required"
    assert "second factor" in response.json()["error"]["message"]
    assert api_post(client, "mfa/recovery-codes/").status_code == 403
    assert devices.has_mfa(user)

    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200
    assert api_delete(client, "mfa/totp/").status_code == 204
    assert not devices.has_mfa(user)


def test_an_app_added_since_a_password_sign_in_is_asked_for_on_the_page(client, user, password,
                                                                        clock, later):
    assert login(client, user, password)["Location"] != reverse("mfa:challenge")
    secret, _codes = enroll(user)
    later()

    response = client.get(REMOVE)
    assert response["Location"].startswith(REAUTH)
    response = client.post(REAUTH, {"password": password, "next": REMOVE})
    assert response["Location"] == REMOVE
    response = client.get(REMOVE)
    assert response["Location"].startswith(REAUTH)
    assert client.post(REMOVE).status_code == 302
    assert devices.has_mfa(user)
    second_step_then_removal(client, response["Location"], user, clock, secret)


def test_a_trusted_browser_sign_in_proves_the_second_factor_before_a_sensitive_action(
        client, user, password, clock, later):
    secret, _codes = enroll(user)
    challenge = reverse("mfa:challenge")
    assert login(client, user, password)["Location"] == challenge
    clock.step()
    client.post(challenge, {"code": clock.code(secret), "trust_browser": "on"})
    client.post(reverse("accounts:logout"))
    assert login(client, user, password)["Location"] != challenge  # trusted: no code asked
    assert record(client)["amr"] == ["pwd"]

    response = api_delete(client, "mfa/totp/")
    assert response.status_code == 403
    assert "second factor" in response.json()["error"]["message"]
    later()
    api_post(client, "reauthenticate/", {"password": password})
    assert api_delete(client, "mfa/totp/").status_code == 403
    response = client.get(REMOVE)
    assert response["Location"].startswith(REAUTH)
    page = client.get(response["Location"]).content.decode()
    assert "confirm your second step too" in page and 'name="password"' not in page
    assert devices.has_mfa(user)

    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200
    assert api_delete(client, "mfa/totp/").status_code == 204
    assert not devices.has_mfa(user)
