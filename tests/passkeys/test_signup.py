"""Sign-up with a passkey only (AUTHSUITE_PASSKEYS_SIGNUP): the address first, then the
mailed link, where the passkey is created and with it the account, which is signed in.
Until then no account exists, so a typed address holds nothing against its owner."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings

from accounts import tokens
from accounts.models import EmailAddress, OneTimeToken
from passkeys.models import Passkey, WebAuthnUser
from tests.factories import UserFactory
from tests.helpers import last_link, open_link, outbox_for, token_from
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import (
    AUTH_KEY,
    ORIGIN,
    auth_record,
    code,
    login,
    post,
    signed_in,
    signup_reference,
)

pytestmark = pytest.mark.django_db

EMAIL = "newcomer@example.com"
enabled = override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)


def request_link(browser, email: str = EMAIL) -> str:
    response = browser.post("/passkeys/signup/", {"email": email})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == "/accounts/signup/verify/"
    return last_link(email)


def create_passkey(browser, token: str, authenticator: SoftAuthenticator, **create):
    options = post(browser, "passkeys/signup/options/", {"token": token})
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json(), origin=create.pop("origin", ORIGIN), **create)
    return post(browser, "passkeys/signup/complete/", {"token": token, "credential": credential})


@enabled
def test_passkey_only_signup_end_to_end():
    browser = Client()
    page = browser.get("/passkeys/signup/")
    assert page.status_code == 200
    assert 'autocomplete="email"' in page.content.decode() or 'name="email"' in page.content.decode()

    link = request_link(browser)
    # No account yet: the address is not proven to be the typist's.
    assert not get_user_model().objects.filter(email=EMAIL).exists()
    assert not EmailAddress.objects.filter(email=EMAIL).exists()
    assert link.startswith("/passkeys/signup/")

    page, url = open_link(browser, link)
    assert page.status_code == 200
    assert url == "/passkeys/signup/confirm/"
    html = page.content.decode()
    assert EMAIL in html and 'data-passkey="signup"' in html
    # Opening the link uses nothing and creates nothing.
    assert not get_user_model().objects.filter(email=EMAIL).exists()

    # What the page script posts: the page's reference to the link its session keeps.
    authenticator = SoftAuthenticator()
    reference = signup_reference(page)
    options = post(browser, "passkeys/signup/options/", reference).json()
    assert options["user"]["name"] == EMAIL
    assert options["authenticatorSelection"]["userVerification"] == "required"
    credential = authenticator.create(options, origin=ORIGIN)
    response = post(browser, "passkeys/signup/complete/", {**reference, "credential": credential})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "authenticated"
    user = get_user_model().objects.get(email=EMAIL)
    assert user.is_active and not user.has_usable_password()
    assert WebAuthnUser.objects.get(user=user).handle == options["user"]["id"]
    assert EmailAddress.objects.get(email=EMAIL).verified
    assert Passkey.objects.filter(user=user).count() == 1
    assert browser.session[AUTH_KEY] == str(user.pk)
    assert auth_record(browser)["acr"] == "urn:authsuite:acr:phr"

    # The link is used up; the passkey signs in from now on.
    assert browser.get(link).status_code == 400
    post(browser, "logout/")
    fresh = Client()
    assert login(fresh, authenticator).json()["status"] == "authenticated"
    # It is the only way in, so it cannot be removed.
    passkey = Passkey.objects.get(user=user)
    response = fresh.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")
    assert code(response) == "passkey_last_credential"


@enabled
def test_before_completion_nothing_signs_in(db):
    request_link(Client())
    response = post(Client(), "login/", {"email": EMAIL, "password": ""})
    assert response.status_code == 400
    assert not signed_in(Client())


@enabled
def test_a_failed_creation_leaves_the_link_usable():
    browser = Client()
    token = token_from(request_link(browser))
    response = create_passkey(browser, token, SoftAuthenticator(), origin="https://evil.example")
    assert code(response) == "passkey_invalid"
    assert not get_user_model().objects.filter(email=EMAIL).exists()
    assert not Passkey.objects.exists()
    assert not signed_in(browser)
    assert create_passkey(browser, token, SoftAuthenticator()).json()["status"] == "authenticated"


@enabled
def test_a_used_link_cannot_create_a_second_account_passkey():
    browser = Client()
    token = token_from(request_link(browser))
    assert create_passkey(browser, token, SoftAuthenticator()).status_code == 200
    response = post(Client(), "passkeys/signup/options/", {"token": token})
    assert code(response) == "token_invalid"
    assert Passkey.objects.count() == 1


@enabled
def test_a_challenge_from_another_link_is_refused(db):
    first, second = Client(), Client()
    token_a = token_from(request_link(first, "a@example.com"))
    token_b = token_from(request_link(second, "b@example.com"))
    options = post(first, "passkeys/signup/options/", {"token": token_a}).json()
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    # The challenge was issued for account a; presenting it with b's link fails.
    response = post(first, "passkeys/signup/complete/", {"token": token_b, "credential": credential})
    assert code(response) == "passkey_invalid"
    assert not Passkey.objects.exists()
    assert not get_user_model().objects.exists()


@enabled
def test_an_existing_address_gets_a_notice_not_an_account(user):
    mail.outbox.clear()
    browser = Client()
    response = browser.post("/passkeys/signup/", {"email": user.email})
    assert response["Location"] == "/accounts/signup/verify/"
    assert get_user_model().objects.filter(email=user.email).count() == 1
    messages = outbox_for(user.email)
    assert len(messages) == 1 and "/passkeys/signup/" not in messages[0].body


@enabled
def test_an_address_another_account_only_claims_can_sign_up_and_the_claim_goes(db):
    claimant = UserFactory()
    EmailAddress.objects.create(user=claimant, email=EMAIL)  # typed in, never verified
    tokens.token_issue(user=claimant, purpose=tokens.Purpose.VERIFY_EMAIL, email=EMAIL,
                       lifetime=3600)
    browser = Client()

    token = token_from(request_link(browser))
    assert create_passkey(browser, token, SoftAuthenticator()).json()["status"] == "authenticated"

    user = get_user_model().objects.get(email=EMAIL)
    assert list(EmailAddress.objects.filter(email=EMAIL).values_list("user", "verified")) == [
        (user.pk, True)]
    assert OneTimeToken.objects.get(user=claimant).voided_at is not None


@enabled
def test_asking_again_sends_a_fresh_link_and_kills_the_old_one():
    first = request_link(Client())
    second = request_link(Client())
    assert first != second
    assert not get_user_model().objects.filter(email=EMAIL).exists()
    assert code(post(Client(), "passkeys/signup/options/", {"token": token_from(first)})) == (
        "token_invalid")
    browser = Client()
    token = token_from(second)
    assert create_passkey(browser, token, SoftAuthenticator()).json()["status"] == "authenticated"
    assert get_user_model().objects.filter(email=EMAIL).count() == 1


@enabled
def test_a_request_at_the_same_moment_as_another_leaves_the_others_link(monkeypatch):
    """Two requests at once for an address nobody has: the later, which found nothing to
    void, is refused by the one-live-link constraint; the earlier link stands, and the
    later request answers the same and mails nothing more."""
    from passkeys import signup
    from passkeys.models import PendingSignup

    first = token_from(request_link(Client()))
    # As if the first request had not committed when this one voided the address's links.
    monkeypatch.setattr(signup, "pending_void", lambda email, **kwargs: 0)
    response = Client().post("/passkeys/signup/", {"email": EMAIL})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/verify/"
    assert len(outbox_for(EMAIL)) == 1
    assert PendingSignup.objects.filter(email=EMAIL).count() == 1
    browser = Client()
    assert create_passkey(browser, first, SoftAuthenticator()).json()["status"] == (
        "authenticated")


def test_the_database_keeps_one_live_link_per_address(db):
    from datetime import timedelta

    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from passkeys.models import PendingSignup

    def pending(n, **extra):
        return PendingSignup.objects.create(email=EMAIL, handle=f"h{n}", digest=f"d{n}",
                                            expires_at=timezone.now() + timedelta(hours=1),
                                            **extra)

    pending(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        pending(2)
    pending(3, voided_at=timezone.now())
    pending(4, used_at=timezone.now())
    assert PendingSignup.objects.filter(email=EMAIL).count() == 3


@pytest.mark.own_user_model
@enabled
def test_through_the_api():
    browser = Client()
    response = post(browser, "passkeys/signup/", {"email": EMAIL, "name": "New Comer"})
    assert response.status_code == 202
    token = token_from(last_link(EMAIL))
    assert create_passkey(browser, token, SoftAuthenticator()).json()["status"] == "authenticated"
    assert get_user_model().objects.get(email=EMAIL).name == "New Comer"


@enabled
def test_bad_tokens(db):
    for token in ("", "x", "x" * 128, "x" * 129):
        response = post(Client(), "passkeys/signup/options/", {"token": token})
        assert response.status_code == 400
        assert code(response) in {"token_invalid", "invalid"}


@enabled
def test_the_signup_page_links_to_it(client):
    assert "/passkeys/signup/" in client.get("/accounts/signup/").content.decode()


def test_disabled_by_default(client):
    assert client.get("/passkeys/signup/").status_code == 404
    assert "/passkeys/signup/" not in client.get("/accounts/signup/").content.decode()
    response = post(client, "passkeys/signup/", {"email": EMAIL})
    assert response.status_code == 403
    assert code(response) == "passkey_signup_disabled"
    assert not get_user_model().objects.filter(email=EMAIL).exists()


@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True, AUTHSUITE_ACCOUNTS_SIGNUP_OPEN=False)
def test_closed_when_signup_is_closed(client):
    response = post(client, "passkeys/signup/", {"email": EMAIL})
    assert code(response) == "passkey_signup_disabled"
    assert client.get("/passkeys/signup/").status_code == 404


@enabled
def test_a_link_of_a_sign_up_closed_since_leads_nowhere():
    # The page of a link is a page of sign-up: closed, it is not there (as the form page),
    # and the link's ceremony is refused; opened again, the link still works.
    browser = Client()
    token = token_from(request_link(browser))
    with override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_OPEN=False):
        assert browser.get(f"/passkeys/signup/{token}/").status_code == 404
        options = post(browser, "passkeys/signup/options/", {"token": token})
        assert options.status_code == 403
        assert code(options) == "passkey_signup_disabled"
    with override_settings(AUTHSUITE_PASSKEYS_SIGNUP=False):
        assert browser.get(f"/passkeys/signup/{token}/").status_code == 404
    page, url = open_link(browser, f"/passkeys/signup/{token}/")
    assert page.status_code == 200
    with override_settings(AUTHSUITE_PASSKEYS_SIGNUP=False):
        assert browser.get(url).status_code == 404
        options = post(browser, "passkeys/signup/options/", signup_reference(page))
        assert code(options) == "passkey_signup_disabled"
    assert browser.get("/passkeys/signup/not-a-token/").status_code == 400


@enabled
def test_a_disabled_account_cannot_be_reactivated_by_signing_up_again():
    browser = Client()
    token = token_from(request_link(browser))
    assert create_passkey(browser, token, SoftAuthenticator()).status_code == 200
    user = get_user_model().objects.get(email=EMAIL)
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # staff disabled it
    mail.outbox.clear()

    other = Client()
    request_link_response = other.post("/passkeys/signup/", {"email": EMAIL})
    assert request_link_response.status_code == 302
    assert "/passkeys/signup/" not in "".join(m.body for m in outbox_for(EMAIL))
    user.refresh_from_db()
    assert not user.is_active


@enabled
def test_a_link_issued_before_the_account_was_disabled_is_dead():
    browser = Client()
    old_token = token_from(request_link(browser))
    token = token_from(request_link(browser))
    assert create_passkey(browser, token, SoftAuthenticator()).status_code == 200
    user = get_user_model().objects.get(email=EMAIL)
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    response = post(Client(), "passkeys/signup/options/", {"token": old_token})
    assert code(response) == "token_invalid"
    user.refresh_from_db()
    assert not user.is_active and Passkey.objects.filter(user=user).count() == 1


@enabled
@pytest.mark.parametrize("change", ["newer_link", "address_taken"])
def test_a_sign_up_mail_retried_after_its_link_died_sends_nothing(
        held, settings, time_machine, change):
    """A send retried after the mail server refused it mails the link only while it would
    still open: not after a newer link voided it, nor after an account took the address."""
    from authsuite import outbox
    from authsuite.models import OutboxMessage
    from passkeys.signup import LINK_DEAD, LINK_GUARD
    from tests.core.test_outbox import FlakyBackend

    time_machine.move_to("2026-01-05 12:00:00+00:00", tick=False)
    queued = held  # the test delivers, as a worker
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    assert Client().post("/passkeys/signup/", {"email": EMAIL}).status_code == 302
    [first] = queued
    assert OutboxMessage.objects.get(pk=first).guard == LINK_GUARD
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(first)  # the mail server refuses it for now
    if change == "newer_link":
        assert Client().post("/passkeys/signup/", {"email": EMAIL}).status_code == 302
        assert outbox.mail_deliver(queued[-1]) == OutboxMessage.Status.SENT
    else:
        UserFactory(email=EMAIL)
        EmailAddress.objects.filter(email=EMAIL).update(verified=True)
    time_machine.shift(31)

    assert outbox.mail_deliver(first) == OutboxMessage.Status.FAILED

    row = OutboxMessage.objects.get(pk=first)
    assert row.last_error == LINK_DEAD
    assert row.sealed_context == "" and row.secret_erased
    assert len(FlakyBackend.sent) == (1 if change == "newer_link" else 0)


@enabled
def test_a_sign_up_mail_retried_while_its_link_works_is_sent(held, settings,
                                                              time_machine):
    from authsuite import outbox
    from authsuite.models import OutboxMessage
    from tests.core.test_outbox import FlakyBackend

    time_machine.move_to("2026-01-05 12:00:00+00:00", tick=False)
    queued = held  # the test delivers, as a worker
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    Client().post("/passkeys/signup/", {"email": EMAIL})
    [first] = queued
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(first)
    time_machine.shift(31)

    assert outbox.mail_deliver(first) == OutboxMessage.Status.SENT
    assert len(FlakyBackend.sent) == 1
