"""Changing the key that seals TOTP keys at rest: the old one, listed as a fallback, still
opens them and each is sealed again with the new one when next used; a key no configured
key opens is a code that does not match (a logged error), never a 500."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from authsuite import crypto
from mfa import devices, totp
from mfa.models import TOTPDevice
from tests.mfa.support import AUTH_KEY, api_post, begin_setup, enroll, login, page_secret

pytestmark = pytest.mark.django_db

OLD, NEW = "o" * 50, "n" * 50
CHALLENGE = reverse("mfa:challenge")


def challenged(client, user, password, clock, secret):
    assert login(client, user, password)["Location"] == CHALLENGE
    clock.step()
    return client.post(CHALLENGE, {"code": clock.code(secret)})


def sealed_with(device: TOTPDevice, material: str) -> bool:
    return crypto.sealed_with_current(device.sealed_key, key=material, purpose=totp.PURPOSE)


def test_a_key_sealed_with_the_old_key_opens_and_is_sealed_again(client, user, password, clock,
                                                                  settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = [OLD]

    response = challenged(client, user, password, clock, secret)

    assert response.status_code == 302 and AUTH_KEY in client.session
    device = devices.totp_device(user)
    assert sealed_with(device, NEW) and not sealed_with(device, OLD)


def test_the_secret_key_used_before_an_encryption_key_was_set_is_a_fallback(
        client, user, password, clock, settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    secret, _codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = [settings.SECRET_KEY]

    assert challenged(client, user, password, clock, secret).status_code == 302
    assert sealed_with(devices.totp_device(user), NEW)


def test_djangos_secret_key_fallbacks_open_keys_sealed_with_the_secret_key(
        client, user, password, clock, settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    old_secret_key = settings.SECRET_KEY
    secret, _codes = enroll(user)
    settings.SECRET_KEY = "a new secret key " * 4
    settings.SECRET_KEY_FALLBACKS = [old_secret_key]

    assert challenged(client, user, password, clock, secret).status_code == 302
    assert sealed_with(devices.totp_device(user), "")  # "": SECRET_KEY, now the new one


def test_a_key_nothing_opens_is_a_code_that_does_not_match(client, user, password, clock,
                                                            settings, caplog):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = OLD
    secret, codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW

    with caplog.at_level(logging.ERROR, logger="authsuite.mfa"):
        response = challenged(client, user, password, clock, secret)

    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert "cannot be decrypted" in caplog.text
    clock.step()
    # The way in that does not depend on the key: a recovery code.
    assert client.post(CHALLENGE, {"code": codes[0]}).status_code == 302
    assert AUTH_KEY in client.session


def test_the_api_challenge_answers_a_key_nothing_opens_with_a_code_error(
        client, user, password, clock, settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW

    body = api_post(client, "login/", {"email": user.email, "password": password}).json()
    assert body["status"] == "pending"
    response = api_post(client, "mfa/challenge/", {"code": clock.code(secret)})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "mfa_code_invalid"


def test_a_setup_begun_before_the_key_changed_begins_again(client, user, password, settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = OLD
    assert login(client, user, password).status_code == 302
    first = page_secret(begin_setup(client).content)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW

    # The page cannot show the setup any more: it offers to begin again, which gives a new key.
    assert "Start setup" in client.get(reverse("mfa:totp_setup")).content.decode()
    response = begin_setup(client)

    assert response.status_code == 200
    assert page_secret(response.content) != first
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_keys_sealed_with_the_secret_box_key_open_once_an_encryption_key_is_set(
        client, user, password, clock, settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = [OLD]

    assert challenged(client, user, password, clock, secret).status_code == 302
    assert sealed_with(devices.totp_device(user), NEW)


def test_the_fallbacks_apply_while_the_secret_box_key_seals(client, user, password, clock,
                                                            settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = [OLD]

    assert challenged(client, user, password, clock, secret).status_code == 302


def test_the_secret_box_fallbacks_open_keys_the_box_sealed(client, user, password, clock,
                                                           settings):
    """Without a key of its own, mfa seals with the secret box's key: rotating that key
    with its old one in AUTHSUITE_SECRET_BOX_KEY_FALLBACKS keeps TOTP working too."""
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD]

    assert challenged(client, user, password, clock, secret).status_code == 302
    device = devices.totp_device(user)
    assert sealed_with(device, NEW) and not sealed_with(device, OLD)


def test_the_box_fallbacks_apply_beside_the_mfa_fallbacks(client, user, password, clock,
                                                          settings):
    """Listing an unrelated key among mfa's own fallbacks does not hide SECRET_KEY's
    fallbacks while SECRET_KEY seals: each level's fallbacks are tried in turn."""
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    old_secret_key = settings.SECRET_KEY
    secret, _codes = enroll(user)
    settings.SECRET_KEY = "a new secret key " * 4
    settings.SECRET_KEY_FALLBACKS = [old_secret_key]
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = ["some earlier encryption key " * 2]

    assert challenged(client, user, password, clock, secret).status_code == 302
    assert sealed_with(devices.totp_device(user), "")


def test_once_an_encryption_key_is_set_only_its_own_fallbacks_are_tried(
        client, user, password, clock, settings):
    """The key the box sealed with belongs in AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS once
    mfa has a key of its own (as the settings reference says): the box's fallbacks are the
    box's."""
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = ""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    secret, _codes = enroll(user)
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = NEW
    settings.AUTHSUITE_SECRET_BOX_KEY = "another box key " * 4
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD]

    response = challenged(client, user, password, clock, secret)

    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
