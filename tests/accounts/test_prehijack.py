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
    freeze,
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


@pytest.mark.parametrize("value", ["\x00password", "пароль🙂" * 10])
def test_odd_passwords_are_form_errors(planted, value):
    owner = Client()
    page, confirm = open_link(owner, planted)

    response = owner.post(confirm, link_form(page, password=value))

    assert response.status_code in (200, 400)
    assert not verified()


# --- a dead link is refused before the password is looked at --------------------------------

DEAD_LINKS = ["forged", "used", "expired", "voided"]
OVERLONG = "x" * 1025  # longer than any password set: a wrong password, not a field error
NULL_CHARACTER = "\x00password"  # a field error of the page's form


def dead_link(planted, time_machine, how: str) -> str:
    """The planted verification link, made unusable in the way ``how`` says."""
    if how == "forged":
        return reverse("accounts:email_verify", kwargs={"token": "A" * 43})
    freeze(time_machine)
    if how == "used":
        assert Client().post(planted, {"password": ATTACKERS_PASSWORD}).status_code == 302
    elif how == "expired":
        time_machine.shift(86401)  # EMAIL_VERIFICATION_TIMEOUT, and a second
    else:  # a newer link voids it
        attacker = EmailAddress.objects.get(email=VICTIM).user
        verification_send(Client().get("/").wsgi_request, user=attacker, email=VICTIM)
    return planted


@pytest.mark.parametrize("how", DEAD_LINKS)
@pytest.mark.parametrize("typed", [OVERLONG, NULL_CHARACTER, "", ATTACKERS_PASSWORD])
def test_html_dead_verification_link_is_refused_whatever_password_was_typed(
        planted, time_machine, how, typed):
    link = dead_link(planted, time_machine, how)

    response = Client().post(link, {"password": typed})

    assert response.status_code == 400
    assert [t.name for t in response.templates][0] == "accounts/token_invalid.html"
    assert b"invalid, expired or already used" in response.content
    assert b"Null characters are not allowed." not in response.content


@pytest.mark.parametrize("how", ["used", "expired", "voided"])
def test_html_dead_verification_link_kept_in_the_session_is_refused_before_the_password(
        planted, time_machine, how):
    browser = Client()
    page, confirm = open_link(browser, planted)
    link = dead_link(planted, time_machine, how)
    assert link == planted

    response = browser.post(confirm, link_form(page, password=NULL_CHARACTER))

    assert response.status_code == 400
    assert b"invalid, expired or already used" in response.content
    assert b"Null characters are not allowed." not in response.content


def test_html_live_verification_link_with_a_bad_password_shows_the_field(planted):
    browser = Client()
    page, confirm = open_link(browser, planted)

    response = browser.post(confirm, link_form(page, password=NULL_CHARACTER))

    assert response.status_code == 200
    assert b"Null characters are not allowed." in response.content
    assert VICTIM.encode() in response.content  # still says which address it confirms
    assert not verified()
    assert browser.post(confirm, link_form(page, password=ATTACKERS_PASSWORD)).status_code == 302
    assert verified()


def test_html_live_verification_link_with_an_overlong_password_is_a_wrong_password(planted):
    # It was a field error ("at most 1024 characters"): not the answer of a wrong
    # password, and not counted by the lockout.
    browser = Client()
    page, confirm = open_link(browser, planted)

    wrong = browser.post(confirm, link_form(page, password="a guess of the owner's"))
    overlong = browser.post(confirm, link_form(page, password=OVERLONG))

    assert overlong.status_code == wrong.status_code == 200
    assert overlong.context["form"].errors == wrong.context["form"].errors == {
        "password": ["The email address or password is incorrect."]}
    assert sum(LoginThrottle.objects.filter(identifier=VICTIM, ip="127.0.0.1")
               .values_list("failures", flat=True)) == 2
    assert not verified()


@pytest.mark.parametrize("how", DEAD_LINKS)
@pytest.mark.parametrize("typed", [{"password": OVERLONG}, {"password": 12345},
                                   {"password": None}, {}])
def test_api_dead_verification_token_is_refused_whatever_password_was_typed(
        planted, time_machine, how, typed):
    token = token_from(dead_link(planted, time_machine, how))

    response = api_post(Client(), "email/verify/", {"token": token, **typed})

    assert response.status_code == 400
    assert error_code(response) == "token_invalid"
    assert not response.json()["error"].get("fields")


@pytest.mark.parametrize("typed, code", [
    (12345, "invalid"),
    (NULL_CHARACTER, "invalid"),
    (OVERLONG, "invalid_credentials"),  # a wrong password, as on the page
    ("a guess of the owner's", "invalid_credentials"),
])
def test_api_live_verification_token_with_a_bad_password_shows_the_field(planted, typed, code):
    token = token_from(planted)

    response = api_post(Client(), "email/verify/", {"token": token, "password": typed})

    assert response.status_code == 400
    assert error_code(response) == code
    assert "password" in response.json()["error"]["fields"]
    assert not verified()
    done = api_post(Client(), "email/verify/", {"token": token, "password": ATTACKERS_PASSWORD})
    assert done.status_code == 200


def test_api_verification_without_a_usable_token_field_still_says_which_field():
    response = api_post(Client(), "email/verify/", {"token": 12345, "password": OVERLONG})

    assert response.status_code == 400
    assert "token" in response.json()["error"]["fields"]


@pytest.mark.parametrize("via", ["html", "api"])
def test_verification_posts_with_a_bad_password_count_once_towards_the_link_rate_limit(
        client, settings, time_machine, via):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"token_confirm": {"ip": "3/5m"}}
    forged = reverse("accounts:email_verify", kwargs={"token": "A" * 43})

    def attempt():
        if via == "html":
            return client.post(forged, {"password": NULL_CHARACTER})
        return api_post(client, "email/verify/", {"token": token_from(forged),
                                                   "password": NULL_CHARACTER})

    assert [attempt().status_code for _ in range(3)] == [400, 400, 400]
    limited = attempt()
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
