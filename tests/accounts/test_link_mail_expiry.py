"""Each mail carrying a link says until when the link works: the moment its token stops
working, in UTC as mails write times, never "in a few minutes" (read an hour later, that
says nothing) and never a time the link no longer works at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import OneTimeToken
from authsuite import notices
from tests.accounts.support import api_post, freeze, signed_in_api
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, outbox_for, user_admin_url

pytestmark = pytest.mark.django_db

VAGUE = ("few minutes", "expires soon")


@pytest.fixture
def start(time_machine):
    return freeze(time_machine)


def parts(email: str) -> list[str]:
    """The text and HTML parts of the last mail to ``email``."""
    message = outbox_for(email)[-1]
    return [message.body, *(content for content, _ in message.alternatives)]


def assert_says_until(email: str, moment) -> None:
    said = f"expires at {notices.utc_text(moment)}"
    found = parts(email)
    assert len(found) == 2
    for part in found:
        assert said in part, part
        assert not any(vague in part for vague in VAGUE)


def token_expiry(user, purpose: str):
    return OneTimeToken.objects.filter(user=user, purpose=purpose).latest("pk").expires_at


@pytest.mark.parametrize("seconds", [600, 95])
def test_a_sign_in_link_says_until_when_it_works(client, user, start, settings, seconds):
    settings.AUTHSUITE_ACCOUNTS_MAGIC_LINK_TIMEOUT = seconds
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    assert_says_until(user.email, start + timedelta(seconds=seconds))
    assert token_expiry(user, OneTimeToken.Purpose.MAGIC_LINK) == start + timedelta(
        seconds=seconds)


def test_a_password_reset_link_says_until_when_it_works(client, user, start, settings):
    settings.AUTHSUITE_ACCOUNTS_PASSWORD_RESET_TIMEOUT = 1800
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert_says_until(user.email, start + timedelta(minutes=30))


def test_a_reset_link_staff_send_says_until_when_it_works(user, staff, start):
    admin = Client()
    admin.force_login(staff)
    admin.post(user_admin_url("changelist"), {
        "action": "send_password_reset", "index": "0", "_selected_action": [user.pk]})
    assert_says_until(user.email, start + timedelta(hours=1))


def test_a_verification_link_says_until_when_it_works(client, user, password, start):
    signed_in_api(client, user.email, password)
    assert api_post(client, "emails/", {"email": "second@example.com"}).status_code == 202
    assert_says_until("second@example.com", start + timedelta(days=1))


def test_a_reauthentication_link_says_until_when_it_works(client, start, time_machine):
    passwordless = UserFactory(email="nopass@example.com", password=None)
    client.post(reverse("accounts:magic_link"), {"email": passwordless.email})
    page, confirm = open_link(client, last_link(passwordless.email))
    client.post(confirm, link_form(page))
    time_machine.shift(301)
    mail.outbox.clear()
    next_path = reverse("accounts:close")
    client.post(f"{reverse('accounts:reauthenticate')}?next={next_path}", {"next": next_path})
    assert_says_until(passwordless.email, start + timedelta(seconds=301 + 600))


@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
def test_a_passkey_sign_up_link_says_until_when_it_works(client, start):
    client.post("/passkeys/signup/", {"email": "newcomer@example.com"})
    assert_says_until("newcomer@example.com", start + timedelta(days=1))
