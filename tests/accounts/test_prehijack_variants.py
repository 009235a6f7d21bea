"""Account pre-hijacking (Sudhodanan and Paverd, USENIX Security 2022), played end to end.

An attacker who knows the victim's address prepares an account with it before the victim
uses the site, and hopes to keep a way in once the victim does. Each test runs one variant
with two browsers, the attacker's and the victim's, and checks that the victim ends up with
an account only they control:

- classic: the attacker signs up with the address and a password; the victim signs in with
  a link, resets the password or signs up;
- unexpired session: the attacker stays signed in to the prepared account;
- trojan identifier: the attacker adds an address, an authenticator app, recovery codes or a
  passkey of their own before the victim takes over;
- email change: the attacker adds the victim's address to an account of their own;
- passkey sign-up with an address the attacker does not control.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import EmailAddress
from audit.models import Event
from mfa.models import RecoveryCodeSet, TOTPDevice
from passkeys.models import Passkey
from tests.accounts.support import api_post, error_code, html_login, is_signed_in, mailed
from tests.helpers import last_link, link_form, open_link, token_from
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import login as passkey_login
from tests.passkeys.test_signup import create_passkey, request_link

pytestmark = pytest.mark.django_db

VICTIM = "victim@example.com"
ATTACKER = "attacker@example.net"
ATTACKERS_PASSWORD = "the attacker chose this long one"
VICTIMS_PASSWORD = "the victim chose this long one"

optional = override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="optional")
VERIFYING = pytest.mark.parametrize("verification", ["mandatory", "optional"])


def browser() -> Client:
    return Client()


def attacker_signs_up(email: str = VICTIM) -> Client:
    attacker = browser()
    response = attacker.post(reverse("accounts:signup"),
                             {"email": email, "password": ATTACKERS_PASSWORD})
    assert response.status_code == 302
    return attacker


def signs_in_by_link(client: Client, email: str = VICTIM) -> None:
    client.post(reverse("accounts:magic_link"), {"email": email})
    page, confirm = open_link(client, last_link(email))
    assert client.post(confirm, link_form(page)).status_code == 302


def resets_password(client: Client, email: str = VICTIM) -> None:
    client.post(reverse("accounts:password_reset"), {"email": email})
    page, confirm = open_link(client, last_link(email))
    response = client.post(confirm, link_form(page, new_password=VICTIMS_PASSWORD,
                                              new_password_confirm=VICTIMS_PASSWORD))
    assert response.status_code == 302
    assert html_login(client, email, VICTIMS_PASSWORD).status_code == 302


def password_works(email: str, password: str) -> bool:
    client = browser()
    html_login(client, email, password)
    return is_signed_in(client)


def the_account():
    return get_user_model().objects.get(email=VICTIM)


# --- classic ---------------------------------------------------------------------------------

@VERIFYING
@pytest.mark.parametrize("takes_over", [signs_in_by_link, resets_password])
def test_classic_the_victims_first_link_leaves_the_attackers_password_dead(
        settings, verification, takes_over):
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = verification
    attacker_signs_up()
    victim = browser()

    takes_over(victim)

    assert is_signed_in(victim)
    assert EmailAddress.objects.get(email=VICTIM).verified
    assert not password_works(VICTIM, ATTACKERS_PASSWORD)


@VERIFYING
def test_classic_the_victim_signing_up_is_sent_to_the_mailbox_and_takes_over(
        settings, verification):
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = verification
    attacker_signs_up()
    victim = browser()

    victim.post(reverse("accounts:signup"), {"email": VICTIM, "password": VICTIMS_PASSWORD})

    assert not is_signed_in(victim)  # no second account, and not the attacker's either
    assert mailed(VICTIM, "you already have an account") == 1
    resets_password(victim)
    assert get_user_model().objects.filter(email=VICTIM).count() == 1
    assert not password_works(VICTIM, ATTACKERS_PASSWORD)


def test_classic_the_victim_cannot_confirm_the_attackers_sign_up_link():
    attacker_signs_up()
    victim = browser()
    page, confirm = open_link(victim, last_link(VICTIM))

    victim.post(confirm, link_form(page))  # not knowing the attacker's password

    assert not EmailAddress.objects.get(email=VICTIM).verified
    assert not password_works(VICTIM, ATTACKERS_PASSWORD)  # verification still mandatory


# --- unexpired session -----------------------------------------------------------------------

@optional
@pytest.mark.parametrize("takes_over", [signs_in_by_link, resets_password])
def test_unexpired_session_ends_when_the_victim_proves_the_mailbox(takes_over):
    attacker = attacker_signs_up()
    assert is_signed_in(attacker)
    victim = browser()

    takes_over(victim)

    assert is_signed_in(victim)
    assert not is_signed_in(attacker)
    ended = Event.objects.filter(action="accounts.session.ended")
    assert ended.count() == 1


# --- trojan identifiers ----------------------------------------------------------------------

@optional
def test_trojan_factors_cannot_be_added_before_the_address_is_proven():
    attacker = attacker_signs_up()

    totp = api_post(attacker, "mfa/totp/setup/")
    codes = api_post(attacker, "mfa/recovery-codes/")
    passkey = api_post(attacker, "passkeys/register/options/")

    assert (totp.status_code, error_code(totp)) == (403, "email_unverified")
    assert (passkey.status_code, error_code(passkey)) == (403, "email_unverified")
    assert error_code(codes) == "mfa_not_enrolled"
    assert not TOTPDevice.objects.exists()
    assert not RecoveryCodeSet.objects.exists()
    assert not Passkey.objects.exists()


def attacker_adds_own_address(attacker: Client) -> None:
    """The prepared account gets a second address, the attacker's, verified by them."""
    assert api_post(attacker, "emails/", {"email": ATTACKER}).status_code == 202
    page, confirm = open_link(attacker, last_link(ATTACKER))
    assert attacker.post(confirm, link_form(page)).status_code == 302
    assert EmailAddress.objects.get(email=ATTACKER).verified


@optional
@pytest.mark.parametrize("takes_over", [signs_in_by_link, resets_password])
def test_trojan_address_goes_when_the_victim_proves_the_mailbox(takes_over):
    attacker = attacker_signs_up()
    attacker_adds_own_address(attacker)
    victim = browser()

    takes_over(victim)

    assert is_signed_in(victim) and not is_signed_in(attacker)
    assert list(EmailAddress.objects.filter(user=the_account())
                .values_list("email", "verified", "primary")) == [(VICTIM, True, True)]
    assert ATTACKER in Event.objects.get(action="accounts.email.removed").data
    # The address is free again, and signs nobody in to the victim's account.
    attacker.post(reverse("accounts:magic_link"), {"email": ATTACKER})
    assert mailed(ATTACKER, "no account uses this address") == 1
    assert not is_signed_in(attacker)


@optional
def test_trojan_address_cannot_become_the_login_address_and_back():
    """The attacker moves the sign-in to their own address to add a passkey there: the
    victim's address then becomes a mere claim, which cannot be made primary again."""
    attacker = attacker_signs_up()
    attacker_adds_own_address(attacker)
    own = EmailAddress.objects.get(email=ATTACKER)
    assert api_post(attacker, f"emails/{own.pk}/primary/").status_code == 200
    victims = EmailAddress.objects.get(email=VICTIM)

    refused = api_post(attacker, f"emails/{victims.pk}/primary/")

    assert error_code(refused) == "email_unverified"
    victim = browser()
    victim.post(reverse("accounts:signup"), {"email": VICTIM, "password": VICTIMS_PASSWORD})
    page, confirm = open_link(victim, last_link(VICTIM))
    victim.post(confirm, link_form(page, password=VICTIMS_PASSWORD))
    assert EmailAddress.objects.get(email=VICTIM, verified=True).user != own.user
    assert not EmailAddress.objects.filter(email=VICTIM, user=own.user).exists()


# --- email change ----------------------------------------------------------------------------

def attackers_own_account() -> Client:
    attacker = browser()
    api_post(attacker, "signup/", {"email": ATTACKER, "password": ATTACKERS_PASSWORD})
    page, confirm = open_link(attacker, last_link(ATTACKER))
    attacker.post(confirm, link_form(page, password=ATTACKERS_PASSWORD))
    html_login(attacker, ATTACKER, ATTACKERS_PASSWORD)
    assert is_signed_in(attacker)
    assert api_post(attacker, "emails/", {"email": VICTIM}).status_code == 202
    return attacker


def test_email_change_an_unverified_claim_signs_in_nobody_and_blocks_no_sign_up():
    attacker = attackers_own_account()
    claim = EmailAddress.objects.get(email=VICTIM)

    assert error_code(api_post(attacker, f"emails/{claim.pk}/primary/")) == "email_unverified"
    assert not password_works(VICTIM, ATTACKERS_PASSWORD)
    browser().post(reverse("accounts:magic_link"), {"email": VICTIM})
    assert "/magic-link/" not in last_link(VICTIM)  # a notice, not a sign-in link

    victim = browser()
    victim.post(reverse("accounts:signup"), {"email": VICTIM, "password": VICTIMS_PASSWORD})
    page, confirm = open_link(victim, last_link(VICTIM))
    victim.post(confirm, link_form(page, password=VICTIMS_PASSWORD))
    assert password_works(VICTIM, VICTIMS_PASSWORD)
    assert list(EmailAddress.objects.filter(email=VICTIM).values_list("user__email", flat=True)
                ) == [VICTIM]


def test_email_change_the_claims_link_does_not_let_the_victim_hand_it_over():
    attackers_own_account()
    link = last_link(VICTIM)  # "verify your address", in the victim's inbox
    victim = browser()

    page, confirm = open_link(victim, link)
    victim.post(confirm, link_form(page))

    assert not EmailAddress.objects.get(email=VICTIM).verified


@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
@pytest.mark.parametrize("victim_signed_in", [False, True])
def test_email_change_by_an_account_without_a_password(victim_signed_in):
    """An account made with a passkey has no password to ask for: the link mailed to the
    victim's address must still not let whoever opens it attach that address to it."""
    attacker = browser()
    token = token_from(request_link(attacker, ATTACKER))
    create_passkey(attacker, token, SoftAuthenticator())
    assert api_post(attacker, "emails/", {"email": VICTIM}).status_code == 202
    link = last_link(VICTIM)
    victim = browser()
    if victim_signed_in:  # the victim has an account of their own, under another address
        api_post(victim, "signup/", {"email": "other@example.com", "password": VICTIMS_PASSWORD})
        page, confirm = open_link(victim, last_link("other@example.com"))
        victim.post(confirm, link_form(page, password=VICTIMS_PASSWORD))
        html_login(victim, "other@example.com", VICTIMS_PASSWORD)
        assert is_signed_in(victim)

    opened = victim.get(link)
    posted = victim.post(link)  # straight to the link, as a form of the victim's own might

    for refused in (opened, posted):
        assert refused.status_code == 400
        assert b"Sign in to the account this address was added to" in refused.content
    assert not EmailAddress.objects.get(email=VICTIM).verified
    api = api_post(browser(), "email/verify/", {"token": token_from(link)})
    assert (api.status_code, error_code(api)) == (403, "sign_in_required")
    assert not EmailAddress.objects.get(email=VICTIM).verified
    # Signed in as the account, its holder confirms it: the way for someone who holds both
    # the account and the mailbox (here the test hands the link over).
    page, confirm = open_link(attacker, link)
    assert attacker.post(confirm, link_form(page)).status_code == 302
    assert EmailAddress.objects.get(email=VICTIM).verified


# --- passkey sign-up -------------------------------------------------------------------------

@override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True)
def test_passkey_sign_up_with_the_victims_address_gives_the_attacker_nothing():
    attacker = browser()
    request_link(attacker, VICTIM)  # the link goes to the victim's inbox
    assert not get_user_model().objects.filter(email=VICTIM).exists()

    victim = browser()
    token = token_from(last_link(VICTIM))
    victims_key = SoftAuthenticator()
    assert create_passkey(victim, token, victims_key).json()["status"] == "authenticated"
    assert list(Passkey.objects.values_list("user__email", flat=True)) == [VICTIM]
    assert passkey_login(browser(), victims_key).json()["status"] == "authenticated"
