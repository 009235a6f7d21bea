"""A passkey sign-up never finished must not hold its address: anyone can type anyone's
address on the sign-up form, and its owner must still be able to sign up, reset a password
and get a sign-in link as if it had never been typed. The owner's account wins over the
pending sign-up, whose link is then dead; links that can no longer be used are cleaned up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client, override_settings

from accounts import tokens
from accounts.flows.email import mark_verified
from accounts.models import EmailAddress
from passkeys import tasks
from passkeys.models import Passkey, PendingSignup
from tests.accounts.support import html_login, is_signed_in, mail_subjects
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, token_from
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import ORIGIN, code, post
from tests.passkeys.test_signup import create_passkey, request_link

pytestmark = pytest.mark.django_db

VICTIM = "owner@example.com"
NEVER_TYPED = "nobody@example.com"
PASSWORD = "a long enough passphrase for tests"
enabled = override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)


def squat(email: str = VICTIM) -> str:
    """Someone types ``email`` on the passkey sign-up form; returns the mailed link's token."""
    response = post(Client(), "passkeys/signup/", {"email": email})
    assert response.status_code == 202
    return token_from(last_link(email))


def password_signup(email: str = VICTIM):
    return Client().post("/accounts/signup/", {"email": email, "password": PASSWORD, "name": "Ow"})


def link_is_dead(token: str) -> bool:
    options = post(Client(), "passkeys/signup/options/", {"token": token})
    return (code(options) == "token_invalid"
            and Client().get(f"/passkeys/signup/{token}/").status_code == 400)


@enabled
def test_the_owner_signs_up_with_a_password_verifies_and_signs_in():
    stale = squat()
    mail.outbox.clear()

    assert password_signup().status_code == 302
    # An account was made and a verification link sent, not "you already have an account".
    assert mail_subjects(VICTIM) == ["authsuite demo: verify your email address"]
    owner = get_user_model().objects.get(email=VICTIM)
    browser = Client()
    page, confirm = open_link(browser, last_link(VICTIM))
    assert browser.post(confirm, link_form(page, password=PASSWORD)).status_code == 302
    assert EmailAddress.objects.get(email=VICTIM).verified

    signing_in = Client()
    assert html_login(signing_in, VICTIM, PASSWORD).status_code == 302
    assert is_signed_in(signing_in)
    # The owner's account won: the link of the earlier sign-up makes no second one.
    assert link_is_dead(stale)
    assert list(get_user_model().objects.filter(email=VICTIM)) == [owner]


@enabled
def test_the_owner_signs_up_with_a_passkey():
    stale = squat()
    browser = Client()
    token = token_from(request_link(browser, VICTIM))
    assert create_passkey(browser, token, SoftAuthenticator()).json()["status"] == "authenticated"
    assert link_is_dead(stale)
    assert get_user_model().objects.filter(email=VICTIM, is_active=True).count() == 1


@pytest.mark.parametrize("unknown_accounts", [True, False])
@pytest.mark.parametrize("path", ["password/reset/", "magic-link/"])
def test_a_reset_or_sign_in_link_answers_as_for_an_address_never_typed(
        settings, path, unknown_accounts):
    # Through the settings fixture alone: mixed with override_settings, whichever ends
    # last would leave the other's value behind for the next tests.
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    settings.AUTHSUITE_ACCOUNTS_EMAIL_UNKNOWN_ACCOUNTS = unknown_accounts
    squat()
    mail.outbox.clear()

    for email in (VICTIM, NEVER_TYPED):
        assert post(Client(), path, {"email": email}).status_code == 202
    assert mail_subjects(VICTIM) == mail_subjects(NEVER_TYPED)
    assert bool(mail_subjects(VICTIM)) == unknown_accounts


@enabled
def test_an_address_taken_between_the_options_and_the_passkey_is_refused():
    browser = Client()
    token = squat()
    options = post(browser, "passkeys/signup/options/", {"token": token}).json()
    password_signup()  # the owner, in another tab
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    response = post(browser, "passkeys/signup/complete/", {"token": token, "credential": credential})

    assert code(response) == "token_invalid"
    assert get_user_model().objects.filter(email=VICTIM).count() == 1
    assert not Passkey.objects.exists()


@enabled
def test_the_link_stays_dead_once_the_account_that_took_the_address_is_gone():
    stale = squat()
    password_signup()
    get_user_model().objects.filter(email=VICTIM).delete()
    assert link_is_dead(stale)


@enabled
def test_another_account_verifying_the_address_kills_the_link(user):
    stale = squat()
    tokens.token_issue(user=user, purpose=tokens.Purpose.VERIFY_EMAIL, email=VICTIM,
                       lifetime=3600)
    EmailAddress.objects.create(user=user, email=VICTIM)
    mark_verified(None, user=user, email=VICTIM)
    # Removed again: the address is free, and the link stays dead all the same.
    EmailAddress.objects.filter(user=user, email=VICTIM).delete()
    assert link_is_dead(stale)


# --- clean-up -------------------------------------------------------------------------------

@enabled
def test_links_that_can_no_longer_be_used_are_removed(time_machine):
    time_machine.move_to("2030-01-01 00:00:00+00:00", tick=False)
    expired = squat("a@example.com")
    used_browser = Client()
    used = token_from(request_link(used_browser, "b@example.com"))
    assert create_passkey(used_browser, used, SoftAuthenticator()).status_code == 200
    voided = squat("c@example.com")
    time_machine.move_to("2030-01-01 12:00:00+00:00", tick=False)
    live = squat("c@example.com")
    time_machine.move_to("2030-01-02 06:00:00+00:00", tick=False)  # a@ past its 24 hours

    assert tasks.expire_signups() == 3
    assert list(PendingSignup.objects.values_list("email", flat=True)) == ["c@example.com"]
    assert all(link_is_dead(token) for token in (expired, used, voided))
    browser = Client()
    assert create_passkey(browser, live, SoftAuthenticator()).json()["status"] == "authenticated"
    assert tasks.expire_signups() == 1
    assert not PendingSignup.objects.exists()


def legacy_unfinished(email: str):
    """What an earlier version left for a passkey sign-up nobody finished: an inactive
    account with no password, its address unverified, and a sign-up link."""
    user = UserFactory(email=email, is_active=False, verified_email=False)
    user.set_unusable_password()
    user.save()
    tokens.token_issue(user=user, purpose=tokens.Purpose.SIGNUP, email=email, lifetime=3600)
    return user


@enabled
def test_accounts_left_unfinished_by_an_earlier_version_are_removed(time_machine):
    legacy_unfinished(VICTIM)
    disabled = UserFactory(email="disabled@example.com", is_active=False)  # by staff
    disabled.set_unusable_password()
    disabled.save()
    signed_in_once = legacy_unfinished("once@example.com")
    type(signed_in_once).objects.filter(pk=signed_in_once.pk).update(
        last_login=signed_in_once.date_joined)
    verified = legacy_unfinished("verified@example.com")
    EmailAddress.objects.filter(user=verified).update(verified=True)

    assert tasks.expire_signups() == 1
    assert set(get_user_model().objects.values_list("email", flat=True)) == {
        "disabled@example.com", "once@example.com", "verified@example.com"}
    mail.outbox.clear()
    password_signup()
    assert mail_subjects(VICTIM) == ["authsuite demo: verify your email address"]


def test_a_pending_signup_expires_with_the_verification_timeout(settings, time_machine):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION_TIMEOUT = 600
    time_machine.move_to("2030-01-01 00:00:00+00:00", tick=False)
    token = squat()
    assert PendingSignup.objects.get().expires_at - PendingSignup.objects.get().created_at == (
        timedelta(seconds=600))
    time_machine.move_to("2030-01-01 00:10:01+00:00", tick=False)
    assert link_is_dead(token)
    assert tasks.expire_signups() == 1
