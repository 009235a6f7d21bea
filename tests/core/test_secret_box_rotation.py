"""Rotating the secret box's key (``AUTHSUITE_SECRET_BOX_KEY``) the way Django documents it
for SECRET_KEY: the old key, listed in ``AUTHSUITE_SECRET_BOX_KEY_FALLBACKS``, still opens
what it sealed (links kept in sessions, mail waiting in the outbox: test_outbox), nothing
new is sealed with it, and without it a value opens as nothing, never as a 500."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from authsuite import crypto
from authsuite.app_settings import app_settings
from tests.helpers import last_link, link_form, open_link

ROOT = Path(__file__).resolve().parents[2]

OLD, NEW, OTHER = "old box key " * 5, "new box key " * 5, "another old box key " * 3
AUTH_KEY = "_auth_user_id"
MAGIC_CONFIRM = "/accounts/magic-link/confirm/"


@pytest.fixture
def rotate(settings):
    """Seal with OLD as the box's key; rotate() makes NEW the key, with ``fallbacks``."""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD

    def rotate(*fallbacks: str):
        settings.AUTHSUITE_SECRET_BOX_KEY = NEW
        settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = list(fallbacks)
    return rotate


# --- the box -----------------------------------------------------------------------------------


def test_a_value_sealed_with_the_old_key_opens_while_it_is_a_fallback(rotate):
    sealed = crypto.seal("a link's token")
    rotate(OLD)

    assert crypto.unseal(sealed) == "a link's token"
    assert crypto.unseal_rotating(sealed) == ("a link's token", False)  # due to be sealed again
    assert not crypto.sealed_with_current(sealed)


def test_each_fallback_is_tried_in_turn(rotate):
    sealed = crypto.seal("a link's token")
    rotate(OTHER, OLD)

    assert crypto.unseal(sealed) == "a link's token"


def test_without_the_old_key_listed_nothing_opens(rotate):
    sealed = crypto.seal("a link's token")
    rotate(OTHER)

    assert crypto.unseal(sealed) is None
    assert crypto.unseal_rotating(sealed) == (None, False)


def test_new_values_are_sealed_with_the_new_key_only(rotate, settings):
    rotate(OLD)
    sealed = crypto.seal("a link's token")

    assert crypto.sealed_with_current(sealed)
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = []
    assert crypto.unseal(sealed) == "a link's token"  # the old key is not needed for it
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OTHER]
    assert crypto.unseal(sealed) is None  # nor can it open it


def test_a_box_key_set_for_the_first_time_lists_the_secret_key(settings):
    """Before a box key was set SECRET_KEY sealed: once one is, SECRET_KEY is no longer
    the box's key, and opens only when listed among the box's fallbacks."""
    sealed = crypto.seal("a link's token")
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW

    assert crypto.unseal(sealed) is None
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [settings.SECRET_KEY]
    assert crypto.unseal(sealed) == "a link's token"


def test_while_no_box_key_is_set_the_secret_key_fallbacks_open(settings):
    sealed = crypto.seal("a link's token")
    old_secret_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a new secret key, the old one kept as a fallback " * 2

    assert crypto.unseal(sealed) is None
    settings.SECRET_KEY_FALLBACKS = [old_secret_key]
    assert crypto.unseal(sealed) == "a link's token"
    assert crypto.box_keys() == [settings.SECRET_KEY, old_secret_key]


def test_while_no_box_key_is_set_the_box_fallbacks_open_too(settings):
    """A box key dropped again (SECRET_KEY seals once more) and listed as a fallback."""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD
    sealed = crypto.seal("a link's token")
    settings.AUTHSUITE_SECRET_BOX_KEY = None
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD]
    settings.SECRET_KEY_FALLBACKS = [OTHER]

    assert crypto.unseal(sealed) == "a link's token"
    assert crypto.box_keys() == [settings.SECRET_KEY, OLD, OTHER]


def test_the_box_key_chain_is_the_key_then_its_fallbacks(rotate, settings):
    rotate(OLD, OTHER)
    settings.SECRET_KEY_FALLBACKS = ["not the box's: SECRET_KEY does not seal " * 2]

    assert crypto.box_keys() == [NEW, OLD, OTHER]


@pytest.mark.parametrize("fallbacks", [OLD, [OLD, ""], [OLD, None], {OLD}])
def test_a_malformed_fallback_setting_is_refused_not_read_as_keys(settings, fallbacks):
    """A string would otherwise be one key per character; the error (system check
    authsuite.E005 at startup) names the setting, never a key."""
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = fallbacks

    with pytest.raises(ValueError, match="AUTHSUITE_SECRET_BOX_KEY_FALLBACKS") as error:
        app_settings.SECRET_BOX_KEY_FALLBACKS  # noqa: B018 - read to validate
    assert OLD.strip() not in str(error.value)


def test_the_fallbacks_are_empty_by_default():
    assert app_settings.SECRET_BOX_KEY_FALLBACKS == []


# --- links kept in sessions ---------------------------------------------------------------------


def test_a_link_opened_before_the_rotation_is_confirmed_after_it(client, user, rotate):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    page, url = open_link(client, last_link(user.email))
    assert url == MAGIC_CONFIRM
    rotate(OLD)

    response = client.post(MAGIC_CONFIRM, link_form(page))

    assert response.status_code == 302
    assert client.session[AUTH_KEY] == str(user.pk)


def test_a_link_no_key_opens_counts_as_none_and_opens_again(client, user, rotate):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    link = last_link(user.email)
    page, _url = open_link(client, link)
    rotate()

    shown = client.get(MAGIC_CONFIRM)
    posted = client.post(MAGIC_CONFIRM, link_form(page))

    assert shown.status_code == posted.status_code == 400
    assert b"holds no link to confirm" in posted.content
    assert AUTH_KEY not in client.session
    # The link itself was not used: opening it again keeps it under the new key.
    page, _url = open_link(client, link)
    assert client.post(MAGIC_CONFIRM, link_form(page)).status_code == 302
    assert client.session[AUTH_KEY] == str(user.pk)


# --- the production profile ---------------------------------------------------------------------


def test_the_production_profile_reads_the_keys_from_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(DJANGO_SETTINGS_MODULE="authsuite.settings_production",
               AUTHSUITE_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 50,
               AUTHSUITE_SECRET_BOX_KEY="b" * 50,
               AUTHSUITE_SECRET_BOX_KEY_FALLBACKS=" old-box-one , old-box-two,",
               AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS="old-totp-key")
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings as s; "
         "print(s.AUTHSUITE_SECRET_BOX_KEY == 'b' * 50, s.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS, "
         "s.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip() == "True ['old-box-one', 'old-box-two'] ['old-totp-key']", (
        result.stderr)


def test_the_production_profile_leaves_them_empty_when_unset(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(DJANGO_SETTINGS_MODULE="authsuite.settings_production",
               AUTHSUITE_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 50)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); "
         "from authsuite.app_settings import app_settings as a; "
         "from mfa.app_settings import app_settings as m; "
         "print(repr(a.SECRET_BOX_KEY), a.SECRET_BOX_KEY_FALLBACKS, m.ENCRYPTION_KEY_FALLBACKS)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip() == "'' [] []", result.stderr
