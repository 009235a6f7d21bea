"""Email addresses: add, verify, make primary, remove, someone else's address, the limit."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client, override_settings

from accounts.app_settings import app_settings
from accounts.models import EmailAddress, OneTimeToken
from tests.accounts.support import (
    api_delete,
    api_get,
    api_post,
    error_code,
    freeze,
    html_login,
    mailed,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory, user_without_address
from tests.helpers import LINK_RE, last_link, link_form, open_link, outbox_for, token_from

MAX_ADDRESSES = app_settings.MAX_EMAIL_ADDRESSES  # the default, in force in these tests
pytestmark = pytest.mark.django_db
EMAIL = "/accounts/email/"


@pytest.fixture
def signed_in(client, user, password):
    signed_in_html(client, user.email, password)
    return client


def add_html(client, email):
    return client.post(EMAIL, {"action": "add", "email": email}, follow=True)


def act_html(client, action, address):
    return client.post(EMAIL, {"action": action, "address": address.pk}, follow=True)


# --- add and verify -------------------------------------------------------------------------

def test_html_add_sends_a_verification_link(signed_in, user):
    page = add_html(signed_in, "Second@Example.com")

    # The address as it is stored and mail goes to.
    assert b"We sent a verification link to second@example.com." in page.content
    address = EmailAddress.objects.get(email="second@example.com")
    assert address.user == user
    assert (address.verified, address.primary) == (False, False)
    assert mailed("second@example.com", "verify your email address") == 1
    assert b"second@example.com" in signed_in.get(EMAIL).content


def test_api_add_sends_a_verification_link(client, user, password):
    signed_in_api(client, user.email, password)

    response = api_post(client, "emails/", {"email": "second@example.com"})

    assert response.status_code == 202
    listed = api_get(client, "emails/").json()
    assert [(a["email"], a["primary"], a["verified"]) for a in listed] == [
        (user.email, True, True), ("second@example.com", False, False),
    ]
    assert mailed("second@example.com", "verify your email address") == 1


def test_html_verify_link(signed_in):
    add_html(signed_in, "second@example.com")
    link = last_link("second@example.com")

    page, confirm = open_link(signed_in, link)
    assert page.status_code == 200
    response = signed_in.post(confirm, link_form(page))

    assert response["Location"] == EMAIL
    assert EmailAddress.objects.get(email="second@example.com").verified is True


def test_api_verify_link(client, user, password):
    signed_in_api(client, user.email, password)
    api_post(client, "emails/", {"email": "second@example.com"})
    token = token_from(last_link("second@example.com"))

    assert api_post(client, "email/verify/", {"token": token}).status_code == 200
    assert EmailAddress.objects.get(email="second@example.com").verified is True
    assert error_code(api_post(client, "email/verify/", {"token": token})) == "token_invalid"


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
def test_add_without_verification_trusts_the_address(signed_in):
    add_html(signed_in, "second@example.com")
    assert EmailAddress.objects.get(email="second@example.com").verified is True
    assert outbox_for("second@example.com") == []


def test_adding_your_own_address_again_changes_nothing(signed_in, user):
    add_html(signed_in, user.email.upper())
    assert EmailAddress.objects.filter(user=user).count() == 1
    assert mail.outbox == []


@pytest.mark.parametrize("typed", ["login", "second"])
def test_the_page_says_an_address_is_yours_already_rather_than_that_a_link_went(
        signed_in, user, typed):
    # The page used to say "We sent a verification link to ..." though none went: the
    # person waits for a mail that never comes. It is their own address, listed on the
    # page: saying so tells them nothing they cannot see.
    EmailAddress.objects.create(user=user, email="second@example.com")
    address = user.email if typed == "login" else "second@example.com"

    page = signed_in.post(EMAIL, {"action": "add", "email": address.upper()})

    assert page.status_code == 200
    assert page.context["form"].errors["email"] == [
        "This address is on your account already."]
    assert b"We sent" not in page.content
    assert EmailAddress.objects.filter(user=user).count() == 2
    assert mail.outbox == []


@pytest.mark.parametrize("stored, typed", [
    ("ann@example.com", "ANN@Example.COM"),  # the login address, in capitals
    ("ann@example.com", " ann@example.com "),
    ("ann@example.com", "ａｎｎ@ｅｘａｍｐｌｅ.com"),  # full-width letters
    ("ann@bücher.example", "ann@xn--bcher-kva.example"),  # punycode for the Unicode domain
    ("ann@bücher.example", "Ann@BÜCHER.example"),
    ("second@xn--bcher-kva.example", "second@bücher.example"),  # a second row of the account
], ids=["case", "spaces", "width", "punycode", "idn-case", "second-row"])
def test_the_api_refuses_an_address_the_account_has_already(client, password, stored, typed):
    # It answered 202, "a verification link is on its way", and none went: a client waits
    # for a mail that never comes. The account lists its own addresses: saying so reveals
    # nothing.
    user = UserFactory(email=stored if "second" not in stored else "ann@example.com",
                       password=password)
    if "second" in stored:
        EmailAddress.objects.create(user=user, email=stored)
    signed_in_api(client, user.email, password)
    mail.outbox.clear()
    rows = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))

    response = api_post(client, "emails/", {"email": typed})

    assert response.status_code == 400, response.content
    assert error_code(response) == "email_already_added"
    assert response.json()["error"]["fields"] == {
        "email": ["This address is on your account already."]}
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified")) == rows
    assert mail.outbox == []
    assert not OneTimeToken.objects.filter(user=user, purpose="verify_email").exists()


def test_another_accounts_address_in_any_spelling_is_still_answered_like_a_new_one(
        client, user, password):
    # The enumeration rule holds: only the account's own addresses are refused.
    UserFactory(email="owner@bücher.example")
    signed_in_api(client, user.email, password)

    fresh = api_post(client, "emails/", {"email": "fresh@example.com"})
    theirs = api_post(client, "emails/", {"email": "Owner@xn--bcher-kva.example"})

    assert fresh.status_code == theirs.status_code == 202
    assert fresh.json() == theirs.json()


# --- make primary ---------------------------------------------------------------------------

@pytest.fixture
def second(user):
    return EmailAddress.objects.create(user=user, email="second@example.com", verified=True)


def test_html_make_primary(signed_in, user, second):
    old = user.email
    page = act_html(signed_in, "primary", second)

    assert b"Your sign-in address is changed." in page.content
    user.refresh_from_db()
    assert user.email == "second@example.com"
    second.refresh_from_db()
    assert second.primary is True
    assert EmailAddress.objects.get(email=old).primary is False
    assert mailed(old, "sign-in address was changed") == 1
    # The new address signs in; the old one no longer does.
    assert html_login(signed_in.__class__(), "second@example.com",
                      "correct horse battery staple")["Location"] == "/accounts/"
    assert html_login(signed_in.__class__(), old, "correct horse battery staple").status_code == 200


def test_api_make_primary(client, user, password, second):
    old = user.email
    signed_in_api(client, user.email, password)

    response = api_post(client, f"emails/{second.pk}/primary/")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email == "second@example.com"
    assert mailed(old, "sign-in address was changed") == 1
    assert api_get(client, "session/").json()["user"]["email"] == "second@example.com"


def test_unverified_address_cannot_become_primary(client, signed_in, user):
    unverified = EmailAddress.objects.create(user=user, email="third@example.com")

    page = act_html(signed_in, "primary", unverified)
    assert b"Verify this address before using it to sign in." in page.content
    response = api_post(signed_in, f"emails/{unverified.pk}/primary/")
    assert response.status_code == 400
    assert error_code(response) == "email_unverified"
    user.refresh_from_db()
    assert user.email != "third@example.com"


def test_someone_elses_address_id_is_not_found(signed_in, user):
    other = UserFactory()
    theirs = EmailAddress.objects.get(user=other)

    assert error_code(api_post(signed_in, f"emails/{theirs.pk}/primary/")) == "email_not_found"
    assert error_code(api_delete(signed_in, f"emails/{theirs.pk}/")) == "email_not_found"
    assert EmailAddress.objects.filter(pk=theirs.pk, user=other).exists()


# --- remove ---------------------------------------------------------------------------------

def test_html_remove(signed_in, user, second):
    page = act_html(signed_in, "remove", second)
    assert b"The address is removed." in page.content
    assert not EmailAddress.objects.filter(pk=second.pk).exists()


def test_api_remove(client, user, password, second):
    signed_in_api(client, user.email, password)
    assert api_delete(client, f"emails/{second.pk}/").status_code == 204
    assert not EmailAddress.objects.filter(pk=second.pk).exists()


def test_removing_an_address_voids_its_pending_link(signed_in, user):
    add_html(signed_in, "second@example.com")
    link = last_link("second@example.com")
    act_html(signed_in, "remove", EmailAddress.objects.get(email="second@example.com"))
    assert signed_in.post(link).status_code == 400
    assert OneTimeToken.objects.get(email="second@example.com").voided_at is not None


def test_primary_address_cannot_be_removed(signed_in, user):
    primary = EmailAddress.objects.get(user=user, primary=True)

    page = act_html(signed_in, "remove", primary)
    assert b"Make another address primary first." in page.content
    response = api_delete(signed_in, f"emails/{primary.pk}/")
    assert response.status_code == 400
    assert error_code(response) == "email_primary"
    assert EmailAddress.objects.filter(pk=primary.pk).exists()


# --- someone else's address -----------------------------------------------------------------

def test_adding_another_accounts_address_reveals_nothing_html(signed_in, user):
    owner = UserFactory()

    mine = add_html(signed_in, "fresh@example.com")
    theirs = add_html(signed_in, owner.email)

    expected = "We sent a verification link to {}."
    assert expected.format("fresh@example.com").encode() in mine.content
    assert expected.format(owner.email).encode() in theirs.content
    assert mine.status_code == theirs.status_code == 200
    # A claim like any other in the adder's list; the owner keeps the address and is told.
    assert sorted(EmailAddress.objects.filter(email=owner.email).values_list(
        "user", "primary", "verified")) == sorted([(owner.pk, True, True), (user.pk, False, False)])
    assert owner.email.encode() in theirs.content
    assert mailed(owner.email, "entered on another account") == 1
    assert [m for m in outbox_for(owner.email) if "http" in m.body] == []


def test_adding_another_accounts_address_reveals_nothing_api(client, user, password):
    owner = UserFactory()
    signed_in_api(client, user.email, password)

    mine = api_post(client, "emails/", {"email": "fresh@example.com"})
    theirs = api_post(client, "emails/", {"email": owner.email.upper()})

    assert mine.status_code == theirs.status_code == 202
    assert mine.json() == theirs.json()
    assert EmailAddress.objects.get(email=owner.email, primary=True).user == owner
    listed = {a["email"]: a["verified"] for a in api_get(client, "emails/").json()}
    assert listed["fresh@example.com"] is listed[owner.email] is False
    assert mailed(owner.email, "entered on another account") == 1


def test_the_login_address_of_an_account_without_address_rows_is_taken(client, user, password):
    # Made by staff or createsuperuser: no address row until one is needed.
    owner = user_without_address("staff-made@example.com", "a long password 1")
    assert not EmailAddress.objects.filter(user=owner).exists()
    signed_in_api(client, user.email, password)

    response = api_post(client, "emails/", {"email": "Staff-Made@example.com"})

    assert response.status_code == 202
    assert list(EmailAddress.objects.filter(email="staff-made@example.com").values_list(
        "user", "verified")) == [(user.pk, False)]  # a claim, never verifiable
    assert mailed("staff-made@example.com", "entered on another account") == 1
    assert [m for m in outbox_for("staff-made@example.com") if "http" in m.body] == []


def test_adding_your_own_login_address_without_a_row_changes_nothing(client, password):
    owner = user_without_address("own@example.com", password)
    signed_in_api(client, owner.email, password)
    mail.outbox.clear()

    response = api_post(client, "emails/", {"email": "own@example.com"})

    assert (response.status_code, error_code(response)) == (400, "email_already_added")
    assert EmailAddress.objects.filter(email="own@example.com").count() <= 1
    assert mail.outbox == []


# --- limit ----------------------------------------------------------------------------------

def fill_up(user):
    for n in range(MAX_ADDRESSES - EmailAddress.objects.filter(user=user).count()):
        EmailAddress.objects.create(user=user, email=f"extra{n}@example.com")


def test_address_limit_html(signed_in, user):
    fill_up(user)
    page = add_html(signed_in, "one-too-many@example.com")
    assert f"You can have at most {MAX_ADDRESSES} addresses.".encode() in page.content
    assert not EmailAddress.objects.filter(email="one-too-many@example.com").exists()
    assert mail.outbox == []


def test_address_limit_api(client, user, password):
    signed_in_api(client, user.email, password)
    fill_up(user)
    response = api_post(client, "emails/", {"email": "one-too-many@example.com"})
    assert response.status_code == 400
    assert error_code(response) == "email_limit"
    assert EmailAddress.objects.filter(user=user).count() == MAX_ADDRESSES


def test_adding_addresses_is_rate_limited(client, user, password, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    signed_in_api(client, user.email, password)
    codes = [api_post(client, "emails/", {"email": f"new{n}@example.com"}).status_code
             for n in range(4)]
    assert codes == [202, 202, 202, 429]
    assert not EmailAddress.objects.filter(email="new3@example.com").exists()


def test_an_address_the_account_has_already_costs_no_attempt(client, user, password,
                                                             time_machine):
    # Refused after the rate limit had counted it: retyping one's own address a few times
    # used up the attempts, and the next new address was refused for a quarter of an hour.
    freeze(time_machine)
    signed_in_api(client, user.email, password)
    local, domain = user.email.split("@")
    for typed in [user.email, user.email.upper(), f" {user.email} ", f"{local}＠{domain}"]:
        response = api_post(client, "emails/", {"email": typed})
        assert (response.status_code, error_code(response)) == (400, "email_already_added")

    codes = [api_post(client, "emails/", {"email": f"new{n}@example.com"}).status_code
             for n in range(4)]

    assert codes == [202, 202, 202, 429]


def test_html_an_address_the_account_has_already_costs_no_attempt(signed_in, user,
                                                                  time_machine):
    freeze(time_machine)
    for _ in range(4):
        page = add_html(signed_in, user.email)
        assert page.status_code == 200
        assert b"This address is on your account already." in page.content

    added = [add_html(signed_in, f"new{n}@example.com") for n in range(3)]

    assert [page.status_code for page in added] == [200, 200, 200]
    assert EmailAddress.objects.filter(user=user, email__startswith="new").count() == 3
    refused = signed_in.post(EMAIL, {"action": "add", "email": "new3@example.com"})
    assert refused.status_code == 429


def test_another_accounts_address_counts_against_the_rate_limit_like_a_new_one(
        password, time_machine):
    # Only the account's own addresses are spared the count: were another account's
    # spared too, an account could tell held addresses from free ones by the limit.
    freeze(time_machine)
    for n in range(4):
        UserFactory(email=f"held{n}@example.com")

    def answers(prefix: str) -> list[tuple]:
        browser = Client()
        signed_in_api(browser, UserFactory(password=password).email, password)
        responses = [api_post(browser, "emails/", {"email": f"{prefix}{n}@example.com"})
                     for n in range(4)]
        # The wait differs by account (each limit's window starts at its own second).
        return [(r.status_code, r.json()["detail"] if r.status_code == 202
                 else error_code(r)) for r in responses]

    held, new = answers("held"), answers("new")

    assert held == new == [(202, "A verification link is on its way to this address.")] * 3 \
        + [(429, "rate_limited")]


def test_email_pages_need_a_session(client):
    assert client.get(EMAIL)["Location"].startswith("/accounts/login/")
    assert api_get(client, "emails/").status_code == 403


def test_resending_to_no_unverified_address_says_so(signed_in, user):
    other = UserFactory()
    theirs = EmailAddress.objects.create(user=other, email="theirs@example.com")
    mine = EmailAddress.objects.get(user=user, primary=True)  # verified already
    mail.outbox.clear()
    for address in (999_999, theirs.pk, mine.pk):
        page = signed_in.post("/accounts/email/", {"action": "resend", "address": address},
                              follow=True)
        shown = [str(m) for m in page.context["messages"]]
        assert shown == ["No such unverified address."], (address, shown)
    assert mail.outbox == []


def test_a_verification_mail_retried_after_a_newer_link_voided_its_own_sends_nothing(
        rf, user, held, settings, time_machine):
    from accounts import tokens
    from accounts.flows.email import verification_send
    from accounts.flows.mail import LINK_DEAD, LINK_GUARD
    from authsuite import outbox
    from authsuite.models import OutboxMessage
    from tests.core.test_outbox import FlakyBackend

    freeze(time_machine)
    queued = held  # the test delivers, as a worker
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    EmailAddress.objects.create(user=user, email="second@example.com")
    verification_send(rf.get("/"), user=user, email="second@example.com")
    [first] = queued
    assert OutboxMessage.objects.get(pk=first).guard == LINK_GUARD
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(first)  # the mail server refuses it for now

    verification_send(rf.get("/"), user=user, email="second@example.com")  # "send again"
    assert outbox.mail_deliver(queued[1]) == OutboxMessage.Status.SENT
    time_machine.shift(30)
    assert outbox.mail_deliver(first) == OutboxMessage.Status.FAILED

    assert OutboxMessage.objects.get(pk=first).last_error == LINK_DEAD
    [sent] = FlakyBackend.sent  # the newer link only, which works
    [url] = LINK_RE.findall(sent.body)
    assert tokens.token_peek(token_from(url), purpose=tokens.Purpose.VERIFY_EMAIL) is not None
