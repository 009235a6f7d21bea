"""Signed-cookie sessions (``django.contrib.sessions.backends.signed_cookies``) without the
passkeys app, which refuses them (``authsuite_passkeys.E005``): the whole session is in the
cookie, so a copy of it outlives a sign-out there. What ends a session is its tracking row,
which every request checks: signing out, ending it from another browser, disabling the
account and the idle timeout hold for every copy of the cookie."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import UserSession
from tests.accounts.support import freeze, is_signed_in, signed_in_html

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def signed_cookies(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


def copy_of(client) -> Client:
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return other


def test_a_copy_of_the_cookie_is_signed_out_with_its_session(client, user, password):
    signed_in_html(client, user.email, password)
    thief = copy_of(client)
    assert is_signed_in(thief)

    client.post(reverse("accounts:logout"))

    assert not is_signed_in(thief)


def test_a_session_ended_from_another_browser_is_ended_for_every_copy(client, user, password):
    signed_in_html(client, user.email, password)
    thief = copy_of(client)
    owner = Client()
    signed_in_html(owner, user.email, password)
    stolen = UserSession.objects.filter(user=user).order_by("pk").first()

    response = owner.post(reverse("accounts:sessions"), {"session": stolen.pk})

    assert response.status_code == 302
    assert not is_signed_in(thief) and not is_signed_in(client)
    assert is_signed_in(owner)


def test_disabling_the_account_signs_out_every_copy(client, user, password):
    signed_in_html(client, user.email, password)
    thief = copy_of(client)
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: a bulk update

    assert not is_signed_in(thief)
    type(user).objects.filter(pk=user.pk).update(is_active=True)
    assert not is_signed_in(thief) and not is_signed_in(client)


def test_the_idle_timeout_holds_for_a_copy(client, user, password, settings, time_machine):
    settings.AUTHSUITE_ACCOUNTS_SESSION_IDLE_TIMEOUT = 600
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    thief = copy_of(client)
    time_machine.shift(601)

    assert not is_signed_in(thief)
