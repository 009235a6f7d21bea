"""Signup: verification modes, verification links, resend limit, honeypot, closed signup and
existing addresses, through the HTML pages and the JSON API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from accounts.models import EmailAddress, OneTimeToken
from audit.models import Event
from tests.accounts.support import (
    AUTH_KEY,
    api_get,
    api_post,
    error_code,
    freeze,
    html_login,
    is_signed_in,
    links_to,
    mail_subjects,
)
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, outbox_for, token_from

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "a long enough passphrase for tests"


def html_signup(client, email, password=PASSWORD, **extra):
    return client.post(
        reverse("accounts:signup"), {"email": email, "password": password, "name": "Ann", **extra}
    )


def api_signup(client, email, password=PASSWORD):
    return api_post(client, "signup/", {"email": email, "password": password, "name": "Ann"})


# --- verification modes -------------------------------------------------------------------

def test_mandatory_verification_html_creates_unverified_account_without_session(client):
    response = html_signup(client, "Ann@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:verification_sent")
    user = User.objects.get(email="ann@example.com")
    assert EmailAddress.objects.get(user=user).verified is False
    assert AUTH_KEY not in client.session
    assert mail_subjects("ann@example.com") == ["authsuite demo: verify your email address"]
    assert "/accounts/email/verify/" in last_link("ann@example.com")


def test_mandatory_verification_api(client):
    response = api_signup(client, "ann@example.com")

    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert response.json()["stage"] == "verify_email"
    assert not is_signed_in(client)
    assert len(outbox_for("ann@example.com")) == 1


def test_mandatory_verification_blocks_password_login_until_verified(client):
    html_signup(client, "ann@example.com")
    response = html_login(client, "ann@example.com", PASSWORD)
    assert response["Location"] == reverse("accounts:verification_sent")
    assert AUTH_KEY not in client.session

    response = api_post(client, "login/", {"email": "ann@example.com", "password": PASSWORD})
    assert response.json()["status"] == "pending"
    assert response.json()["stage"] == "verify_email"
    assert not is_signed_in(client)

    client.post(last_link("ann@example.com"), {"password": PASSWORD})
    assert html_login(client, "ann@example.com", PASSWORD)["Location"] == "/accounts/"
    assert client.session[AUTH_KEY]


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="optional")
def test_optional_verification_signs_in_and_still_sends_a_link(client):
    response = html_signup(client, "ann@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    assert client.session[AUTH_KEY] == str(User.objects.get(email="ann@example.com").pk)
    assert EmailAddress.objects.get(email="ann@example.com").verified is False
    assert len(outbox_for("ann@example.com")) == 1


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="optional")
def test_optional_verification_api(client):
    response = api_signup(client, "ann@example.com")

    assert response.status_code == 201
    assert response.json() == {"status": "authenticated"}
    assert is_signed_in(client)
    assert len(outbox_for("ann@example.com")) == 1


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
@pytest.mark.parametrize("via", ["html", "api"])
def test_no_verification_signs_in_sends_nothing_and_trusts_the_address(client, via):
    response = html_signup(client, "ann@example.com") if via == "html" else api_signup(
        client, "ann@example.com"
    )

    assert response.status_code in (201, 302)
    assert is_signed_in(client)
    assert EmailAddress.objects.get(email="ann@example.com").verified is True
    assert mail.outbox == []


# --- verification link ----------------------------------------------------------------------

def test_verification_link_html_get_consumes_nothing_post_verifies_once(client):
    html_signup(client, "ann@example.com")
    link = last_link("ann@example.com")

    page, confirm = open_link(client, link)
    assert page.status_code == 200
    assert b"ann@example.com" in page.content
    assert EmailAddress.objects.get(email="ann@example.com").verified is False

    assert client.post(confirm, link_form(page, password=PASSWORD)).status_code == 302
    address = EmailAddress.objects.get(email="ann@example.com")
    assert address.verified is True
    assert address.verified_at is not None

    assert client.get(link).status_code == 400
    again = client.post(link)
    assert again.status_code == 400
    assert b"invalid, expired or already used" in again.content


def test_verification_link_api_single_use(client):
    api_signup(client, "ann@example.com")
    token = token_from(last_link("ann@example.com"))

    first = api_post(client, "email/verify/", {"token": token, "password": PASSWORD})
    assert first.status_code == 200
    assert EmailAddress.objects.get(email="ann@example.com").verified is True

    second = api_post(client, "email/verify/", {"token": token, "password": PASSWORD})
    assert second.status_code == 400
    assert error_code(second) == "token_invalid"


@pytest.mark.parametrize("via", ["html", "api"])
def test_verification_link_expires(client, time_machine, via):
    freeze(time_machine)
    html_signup(client, "ann@example.com")
    link = last_link("ann@example.com")

    time_machine.shift(timedelta(days=1, seconds=1))
    if via == "html":
        assert client.get(link).status_code == 400
        assert client.post(link).status_code == 400
    else:
        response = api_post(client, "email/verify/", {"token": token_from(link)})
        assert response.status_code == 400
        assert error_code(response) == "token_invalid"
    assert EmailAddress.objects.get(email="ann@example.com").verified is False


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION_TIMEOUT=120)
def test_verification_link_lifetime_is_configurable(client, time_machine):
    freeze(time_machine)
    html_signup(client, "ann@example.com")
    link = last_link("ann@example.com")

    time_machine.shift(119)
    assert open_link(client, link)[0].status_code == 200
    time_machine.shift(2)
    assert client.get(link).status_code == 400


def test_a_new_link_voids_the_older_one(client):
    html_signup(client, "ann@example.com")
    first = last_link("ann@example.com")
    html_login(client, "ann@example.com", PASSWORD)  # sends a fresh link
    second = last_link("ann@example.com")

    assert first != second
    assert client.post(first, {"password": PASSWORD}).status_code == 400
    assert client.post(second, {"password": PASSWORD}).status_code == 302
    assert EmailAddress.objects.get(email="ann@example.com").verified is True


# --- resend limit ---------------------------------------------------------------------------

def test_resend_html_is_rate_limited(client, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    user = UserFactory(verified_email=False)
    client.force_login(user)
    address = EmailAddress.objects.get(user=user)

    for _ in range(3):
        response = client.post(reverse("accounts:email"), {"action": "resend",
                                                           "address": address.pk}, follow=True)
        assert b"We sent a new verification link." in response.content
    assert len(outbox_for(user.email)) == 3

    response = client.post(reverse("accounts:email"), {"action": "resend", "address": address.pk})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert b"Too many attempts" in response.content
    assert address.email.encode() in response.content  # the page, with its addresses
    assert len(outbox_for(user.email)) == 3


def test_resend_api_is_rate_limited_with_retry_after(client, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    user = UserFactory(verified_email=False)
    client.force_login(user)
    address = EmailAddress.objects.get(user=user)

    for _ in range(3):
        assert api_post(client, f"emails/{address.pk}/resend/").status_code == 202
    response = api_post(client, f"emails/{address.pk}/resend/")

    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert len(outbox_for(user.email)) == 3


def test_resend_api_refuses_a_verified_address(client):
    user = UserFactory(verified_email=True)
    client.force_login(user)
    address = EmailAddress.objects.get(user=user)

    response = api_post(client, f"emails/{address.pk}/resend/")

    assert response.status_code == 409
    assert error_code(response) == "email_already_verified"
    assert outbox_for(user.email) == []


def test_resend_limit_is_configurable(client, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    user = UserFactory(verified_email=False)
    client.force_login(user)
    address = EmailAddress.objects.get(user=user)
    limits = {"verification_resend": {"ip": "20/h", "account": "1/h"}}

    with override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=limits):
        assert api_post(client, f"emails/{address.pk}/resend/").status_code == 202
        assert api_post(client, f"emails/{address.pk}/resend/").status_code == 429


# --- honeypot -------------------------------------------------------------------------------

def test_honeypot_field_is_rendered(client):
    page = client.get(reverse("accounts:signup"))
    assert b'name="website"' in page.content


def test_filled_honeypot_pretends_success_and_creates_nothing(client):
    real = html_signup(client, "real@example.com")
    mail.outbox.clear()

    bot = html_signup(client, "bot@example.com", website="http://spam.example")

    assert bot.status_code == real.status_code == 302
    assert bot["Location"] == real["Location"]
    assert not User.objects.filter(email="bot@example.com").exists()
    assert not EmailAddress.objects.filter(email="bot@example.com").exists()
    assert not OneTimeToken.objects.filter(email="bot@example.com").exists()
    assert mail.outbox == []


@override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_HONEYPOT_FIELD="fax")
def test_honeypot_field_name_is_configurable(client):
    page = client.get(reverse("accounts:signup"))
    assert b'name="fax"' in page.content
    assert b'name="website"' not in page.content

    html_signup(client, "bot@example.com", fax="0123")
    assert not User.objects.filter(email="bot@example.com").exists()


@override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_HONEYPOT_FIELD="")
def test_honeypot_can_be_turned_off(client):
    page = client.get(reverse("accounts:signup"))
    assert b'name="website"' not in page.content
    html_signup(client, "ann@example.com", website="ignored")
    assert User.objects.filter(email="ann@example.com").exists()


# --- signup closed --------------------------------------------------------------------------

@override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_OPEN=False)
def test_signup_closed_html(client):
    page = client.get(reverse("accounts:signup"))
    assert page.status_code == 403
    assert b"Sign-up is closed" in page.content

    response = html_signup(client, "ann@example.com")
    assert response.status_code == 403
    assert not User.objects.exists()
    assert b"Create an account" not in client.get(reverse("accounts:login")).content


@override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_OPEN=False)
def test_signup_closed_api(client):
    response = api_signup(client, "ann@example.com")
    assert response.status_code == 403
    assert error_code(response) == "signup_closed"
    assert not User.objects.exists()
    assert mail.outbox == []


# --- existing addresses ---------------------------------------------------------------------

def test_existing_address_html_same_response_and_owner_is_told(client, user, password):
    new = html_signup(client, "someone.new@example.com")
    existing = html_signup(client, user.email.upper())

    assert existing.status_code == new.status_code == 302
    assert existing["Location"] == new["Location"]
    assert User.objects.filter(email=user.email).count() == 1
    assert mail_subjects(user.email) == ["authsuite demo: you already have an account"]
    assert links_to(user.email) == []
    # The attempt did not touch the owner's password.
    user.refresh_from_db()
    assert user.check_password(password)
    assert not user.check_password(PASSWORD)


def test_existing_address_api_same_response_and_owner_is_told(client, user):
    new = api_signup(client, "someone.new@example.com")
    existing = api_signup(client, user.email)

    assert existing.status_code == new.status_code == 201
    assert existing.json() == new.json()
    assert User.objects.filter(email=user.email).count() == 1
    assert mail_subjects(user.email) == ["authsuite demo: you already have an account"]


def test_existing_secondary_address_counts_as_taken(client, user):
    EmailAddress.objects.create(user=user, email="second@example.com", verified=True)

    html_signup(client, "Second@Example.com")

    assert not User.objects.filter(email="second@example.com").exists()
    assert mail_subjects("second@example.com") == ["authsuite demo: you already have an account"]


def events_after(start: int) -> list:
    return list(Event.objects.filter(pk__gt=start).order_by("pk"))


@pytest.mark.parametrize("holds", ["login address", "second address"])
def test_a_taken_address_records_an_event_and_queues_a_message_as_a_new_one_does(
        client, user, holds):
    """The two answers are alike in their work too: one event and one message each."""
    taken = user.email
    if holds == "second address":
        taken = "second@example.com"
        EmailAddress.objects.create(user=user, email=taken, verified=True)
    start = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    api_signup(client, "someone.new@example.com")
    middle = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    api_signup(client, taken.upper())

    assert [e.action for e in events_after(start) if e.pk <= middle] == ["accounts.signup"]
    [event] = events_after(middle)
    assert (event.action, event.outcome) == ("accounts.signup.address_taken", "denied")
    assert event.actor_id == str(user.pk)  # the account's own trail, as for its links
    assert json.loads(event.data) == {"email": taken}
    assert len(outbox_for("someone.new@example.com")) == len(outbox_for(taken)) == 1


def test_no_account_is_created_twice(client):
    html_signup(client, "ann@example.com", password=PASSWORD)
    api_signup(client, "ANN@example.com", password="a different long passphrase")
    html_signup(client, " ann@EXAMPLE.com ", password="yet another long passphrase")

    assert User.objects.filter(email__iexact="ann@example.com").count() == 1
    assert EmailAddress.objects.filter(email__iexact="ann@example.com").count() == 1
    user = User.objects.get(email="ann@example.com")
    assert user.check_password(PASSWORD)


def test_signup_rejects_a_weak_password_with_a_field_error(client):
    page = html_signup(client, "ann@example.com", password="short")
    assert page.status_code == 200
    assert b"Use at least 15 characters." in page.content

    response = api_signup(client, "ann@example.com", password="short")
    assert response.status_code == 400
    assert error_code(response) == "password_invalid"
    assert "password" in response.json()["error"]["fields"]
    assert not User.objects.exists()


def test_signup_api_session_state_reports_nothing_pending(client):
    api_signup(client, "ann@example.com")
    state = api_get(client, "session/").json()
    assert state["authenticated"] is False
    assert state["user"] is None
