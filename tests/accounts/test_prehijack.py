"""Pre-hijacking: someone signs up with another person's address and waits for its owner to
confirm the verification link, which would hand them a verified account.

A link proves the mailbox, not who chose the password: unless the browser confirming it is
signed in as the account, the account's password is asked for too, checked under the same
lockout and rate limits as a sign-in.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.flows.email import verification_send
from accounts.models import EmailAddress, LoginThrottle, OneTimeToken
from tests.accounts.support import (
    AUTH_KEY,
    api_post,
    error_code,
    html_login,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory, user_without_address
from tests.helpers import last_link, link_form, open_link, token_from

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"
ATTACKERS_PASSWORD = "the attacker chose this one"


@pytest.fixture
def planted(db):
    """The attacker signed up with the victim's address; the link is in the victim's inbox."""
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    attacker.post(reverse("accounts:signup"), {"email": VICTIM, "password": ATTACKERS_PASSWORD})
    return last_link(VICTIM)


def verified() -> bool:
    return EmailAddress.objects.get(email=VICTIM).verified


def test_the_owner_pressing_the_button_verifies_nothing_and_the_attacker_stays_out(planted):
    owner = Client()
    page, confirm = open_link(owner, planted)
    assert b'name="password"' in page.content

    response = owner.post(confirm, link_form(page))

    assert response.status_code == 200
    assert b"Enter the password of the account to confirm this address." in response.content
    assert not verified()
    assert OneTimeToken.objects.filter(used_at__isnull=True).count() == 1  # still usable
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    html_login(attacker, VICTIM, ATTACKERS_PASSWORD)
    assert AUTH_KEY not in attacker.session  # mandatory verification still holds them


def test_a_wrong_password_is_a_failed_sign_in(planted):
    owner = Client()
    page, confirm = open_link(owner, planted)

    response = owner.post(confirm, link_form(page, password="a guess of the owner's"))

    assert response.status_code == 200
    assert b"The email address or password is incorrect." in response.content
    assert not verified()
    assert LoginThrottle.objects.filter(identifier=VICTIM).exists()  # counted by the lockout
    assert OneTimeToken.objects.filter(used_at__isnull=True).count() == 1


def test_guessing_on_the_confirmation_page_meets_the_lockout(planted):
    owner = Client()
    page, confirm = open_link(owner, planted)
    for _ in range(5):
        owner.post(confirm, link_form(page, password="still guessing here"))

    response = owner.post(confirm, link_form(page, password=ATTACKERS_PASSWORD))

    assert response.status_code == 429
    assert response["Retry-After"]
    assert not verified()


def test_whoever_chose_the_password_verifies_with_it(planted):
    browser = Client()
    page, confirm = open_link(browser, planted)

    response = browser.post(confirm, link_form(page, password=ATTACKERS_PASSWORD))

    assert response.status_code == 302
    assert verified()


def test_the_api_asks_for_the_password_with_a_stable_code(planted):
    client = Client()
    token = token_from(planted)

    missing = api_post(client, "email/verify/", {"token": token})
    wrong = api_post(client, "email/verify/", {"token": token, "password": "nope, not it"})

    assert missing.status_code == 400
    assert error_code(missing) == "password_required"
    assert wrong.status_code == 400
    assert error_code(wrong) == "invalid_credentials"
    assert not verified()
    done = api_post(client, "email/verify/", {"token": token, "password": ATTACKERS_PASSWORD})
    assert done.status_code == 200
    assert verified()


def test_signed_in_as_the_account_no_password_is_asked(client, user, password):
    signed_in_html(client, user.email, password)
    client.post(reverse("accounts:email"), {"email": "second@example.com"})
    page, confirm = open_link(client, last_link("second@example.com"))
    assert b'name="password"' not in page.content

    assert client.post(confirm, link_form(page)).status_code == 302
    assert EmailAddress.objects.get(email="second@example.com").verified


def test_signed_in_as_another_account_the_password_is_asked(client, password):
    owner = UserFactory(password=password)
    signed_in_api(client, owner.email, password)
    api_post(client, "emails/", {"email": "second@example.com"})
    link = last_link("second@example.com")
    someone_else = UserFactory(password=password)
    other = Client()
    signed_in_html(other, someone_else.email, password)

    page, confirm = open_link(other, link)
    refused = other.post(confirm, link_form(page))

    assert b'name="password"' in page.content
    assert refused.status_code == 200
    assert not EmailAddress.objects.get(email="second@example.com").verified


def test_an_account_without_a_password_has_nothing_to_hijack_with(client):
    user = user_without_address("nopass@example.com")
    EmailAddress.objects.create(user=user, email="nopass@example.com", primary=True)
    verification_send(Client().get("/").wsgi_request, user=user, email="nopass@example.com")
    page, confirm = open_link(client, last_link("nopass@example.com"))

    assert b'name="password"' not in page.content
    assert client.post(confirm, link_form(page)).status_code == 302
    assert EmailAddress.objects.get(email="nopass@example.com").verified


@pytest.mark.parametrize("value", ["x" * 1025, "\x00password", "пароль🙂" * 10])
def test_odd_passwords_are_form_errors(planted, value):
    owner = Client()
    page, confirm = open_link(owner, planted)

    response = owner.post(confirm, link_form(page, password=value))

    assert response.status_code in (200, 400)
    assert not verified()
