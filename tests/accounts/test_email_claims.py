"""An address typed into one account reserves nothing: it may sit unverified on several
accounts, only one account holds it verified, and verifying it removes the others' claims.

The owner of an address can sign up with it whoever typed it first; the person who typed
it learns nothing from adding it; a claim never takes the place of another account's login
address; of two accounts verifying one address exactly one keeps it.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from accounts import lockout, tokens
from accounts.admin import EmailAddressForm
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import mark_verified
from accounts.models import EmailAddress, LoginThrottle, OneTimeToken
from tests.accounts.support import (
    api_get,
    api_post,
    error_code,
    mailed,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory, user_without_address
from tests.helpers import last_link, link_form, open_link, outbox_for, token_from

pytestmark = pytest.mark.django_db
User = get_user_model()

ADDRESS = "owner@example.com"
PASSWORD = "correct horse battery staple"  # the factory's
OWNER_PASSWORD = "the owner's own long passphrase"
VERIFY_SUBJECT = "verify your email address"


def api_client(user) -> Client:
    client = Client()
    signed_in_api(client, user.email, PASSWORD)
    return client


def claim(user, email: str = ADDRESS) -> tuple[Client, str]:
    """``user`` types ``email`` into their address list; their client and the link's token."""
    client = api_client(user)
    assert api_post(client, "emails/", {"email": email}).status_code == 202
    return client, token_from(last_link(email))


def verify_api(client, token: str):
    return api_post(client, "email/verify/", {"token": token})


def rows(email: str = ADDRESS) -> list[tuple[int, bool, bool]]:
    """(account, verified, primary) of every row of ``email``."""
    return sorted(EmailAddress.objects.filter(email=email)
                  .values_list("user_id", "verified", "primary"))


def signup_html(client, email: str = ADDRESS):
    return client.post(reverse("accounts:signup"),
                       {"email": email, "password": OWNER_PASSWORD, "name": "Owner"})


def owner_verifies_by_link() -> None:
    """The owner opens the last link mailed to the address in a browser of their own."""
    browser = Client()
    page, confirm = open_link(browser, last_link(ADDRESS))
    response = browser.post(confirm, link_form(page, password=OWNER_PASSWORD))
    assert response.status_code == 302, response.content[:300]


@pytest.fixture
def adder(db):
    """An account that typed someone else's address into its list."""
    return UserFactory(email="adder@example.com")


@pytest.fixture
def other(db):
    return UserFactory(email="other@example.com")


# --- the owner can sign up ------------------------------------------------------------------

def test_owner_signs_up_html_with_an_address_another_account_claims(client, adder):
    claim(adder)

    response = signup_html(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:verification_sent")
    owner = User.objects.get(email=ADDRESS)
    assert rows() == sorted([(adder.pk, False, False), (owner.pk, False, True)])
    # The owner got a verification link of their own, not "you already have an account".
    assert mailed(ADDRESS, VERIFY_SUBJECT) == 2  # the adder's link, then the owner's
    assert mailed(ADDRESS, "you already have an account") == 0
    assert OneTimeToken.objects.filter(user=owner, email=ADDRESS, used_at__isnull=True,
                                       voided_at__isnull=True).count() == 1


def test_owner_signs_up_through_the_api_with_an_address_another_account_claims(client, adder):
    claim(adder)

    response = api_post(client, "signup/", {"email": ADDRESS.upper(), "password": OWNER_PASSWORD})

    assert response.status_code == 201
    assert response.json()["stage"] == "verify_email"
    owner = User.objects.get(email=ADDRESS)
    assert (owner.pk, False, True) in rows()
    assert mailed(ADDRESS, "you already have an account") == 0


def test_an_address_verified_on_an_account_still_cannot_sign_up(client, adder):
    holder = UserFactory()
    EmailAddress.objects.create(user=holder, email=ADDRESS, verified=True)

    response = signup_html(client)

    assert response.status_code == 302  # the same answer as a free address
    assert not User.objects.filter(email=ADDRESS).exists()
    assert mailed(ADDRESS, "you already have an account") == 1


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
def test_signing_up_without_verification_removes_the_claims(client, adder):
    EmailAddress.objects.create(user=adder, email=ADDRESS)

    signup_html(client)

    owner = User.objects.get(email=ADDRESS)
    assert rows() == [(owner.pk, True, True)]


# --- verifying removes the other claims -----------------------------------------------------

def test_owner_verifying_removes_the_claim_and_its_link_stops_working(client, adder):
    adder_client, adder_token = claim(adder)
    signup_html(client)
    owner = User.objects.get(email=ADDRESS)

    owner_verifies_by_link()

    assert rows() == [(owner.pk, True, True)]
    adder_link = OneTimeToken.objects.get(user=adder, email=ADDRESS)
    assert adder_link.voided_at is not None and adder_link.used_at is None
    response = verify_api(adder_client, adder_token)
    assert response.status_code == 400
    assert error_code(response) == "token_invalid"
    assert ADDRESS not in [a["email"] for a in api_get(adder_client, "emails/").json()]
    assert rows() == [(owner.pk, True, True)]


def test_the_first_of_two_claiming_accounts_to_verify_keeps_the_address(adder, other):
    adder_client, adder_token = claim(adder)
    other_client, other_token = claim(other)
    assert rows() == sorted([(adder.pk, False, False), (other.pk, False, False)])

    assert verify_api(other_client, other_token).status_code == 200

    assert rows() == [(other.pk, True, False)]
    response = verify_api(adder_client, adder_token)
    assert error_code(response) == "token_invalid"
    assert rows() == [(other.pk, True, False)]


def test_an_address_verified_elsewhere_a_moment_ago_is_refused_and_nothing_is_written(
        adder, other):
    adder_client, adder_token = claim(adder)
    # Another account's verification committed between this one's checks and its write,
    # so its clean-up has not reached this claim: the unique index has the last word.
    EmailAddress.objects.create(user=other, email=ADDRESS, verified=True)

    response = verify_api(adder_client, adder_token)

    assert response.status_code == 409
    assert error_code(response) == "email_in_use"
    assert rows() == sorted([(adder.pk, False, False), (other.pk, True, False)])
    assert OneTimeToken.objects.get(user=adder, email=ADDRESS).used_at is None


def test_a_claim_cannot_take_the_login_address_of_an_account_that_signed_up_since(
        client, adder):
    adder_client, adder_token = claim(adder)
    signup_html(client)  # the owner signs up; their address waits for verification
    owner = User.objects.get(email=ADDRESS)

    response = verify_api(adder_client, adder_token)

    assert response.status_code == 409
    assert error_code(response) == "email_in_use"
    # The owner's pending primary row is untouched; the adder's link is not used up.
    assert rows() == sorted([(adder.pk, False, False), (owner.pk, False, True)])
    assert OneTimeToken.objects.get(user=adder, email=ADDRESS).used_at is None
    owner_verifies_by_link()
    assert rows() == [(owner.pk, True, True)]


def test_the_html_verification_page_refuses_a_claim_on_a_login_address(client, adder):
    browser = Client()
    signed_in_html(browser, adder.email, PASSWORD)
    browser.post("/accounts/email/", {"action": "add", "email": ADDRESS})
    adder_link = last_link(ADDRESS)
    signup_html(client)

    page, confirm = open_link(browser, adder_link)
    response = browser.post(confirm, link_form(page))

    assert response.status_code == 400
    assert b"Another account already uses this address." in response.content
    assert (adder.pk, False, False) in rows()


def test_another_accounts_primary_row_is_never_removed_or_outranked(adder):
    # A primary address that is not (or no longer) the login address, as staff editing the
    # user's address in the admin can leave it: it is held all the same.
    holder = user_without_address("holder@example.com")
    EmailAddress.objects.create(user=holder, email=ADDRESS, primary=True)
    EmailAddress.objects.create(user=adder, email=ADDRESS)
    tokens.token_issue(user=adder, purpose=tokens.Purpose.VERIFY_EMAIL, email=ADDRESS,
                       lifetime=3600)

    with pytest.raises(FlowError) as refused:
        mark_verified(None, user=adder, email=ADDRESS)

    assert refused.value.code == AccountsError.EMAIL_IN_USE
    assert rows() == sorted([(adder.pk, False, False), (holder.pk, False, True)])
    assert OneTimeToken.objects.get(user=adder).voided_at is None
    # Adding it elsewhere is one more claim, with no link: the holder gets a notice.
    third = UserFactory()
    assert api_post(api_client(third), "emails/", {"email": ADDRESS}).status_code == 202
    assert rows() == sorted([(adder.pk, False, False), (holder.pk, False, True),
                             (third.pk, False, False)])
    assert OneTimeToken.objects.filter(user=third).count() == 0


def test_verifying_an_address_the_account_signs_in_with_removes_the_claims(adder):
    owner = UserFactory(email=ADDRESS, verified_email=False)
    EmailAddress.objects.create(user=adder, email=ADDRESS)

    assert mark_verified(None, user=owner, email=ADDRESS) is True

    assert rows() == [(owner.pk, True, True)]


# --- adding an address tells nothing -------------------------------------------------------

def test_adding_answers_the_same_for_a_free_a_claimed_and_a_taken_address(user, adder):
    claim(adder, "claimed@example.com")
    holder = UserFactory(email="taken@example.com")
    client = api_client(user)

    answers = [api_post(client, "emails/", {"email": email})
               for email in ("free@example.com", "claimed@example.com", "taken@example.com")]

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    # Behind the answer, a claim for all three, listed alike; a link for the first two, a
    # notice for the holder of the third.
    assert rows("free@example.com") == [(user.pk, False, False)]
    assert rows("claimed@example.com") == sorted([(adder.pk, False, False), (user.pk, False, False)])
    assert rows("taken@example.com") == sorted([(holder.pk, True, True), (user.pk, False, False)])
    listed = api_get(client, "emails/").json()
    mine = [a for a in listed if a["email"] != user.email]
    assert len(mine) == 3
    assert len({tuple(sorted((k, v) for k, v in a.items() if k not in ("id", "email", "created_at")))
                for a in mine}) == 1  # the three look the same
    assert mailed("claimed@example.com", VERIFY_SUBJECT) == 2
    assert mailed("taken@example.com", "entered on another account") == 1
    assert [m for m in outbox_for("taken@example.com") if "http" in m.body] == []


def test_adding_answers_the_same_html(user, adder):
    claim(adder, "claimed@example.com")
    UserFactory(email="taken@example.com")
    browser = Client()
    signed_in_html(browser, user.email, PASSWORD)

    pages = [browser.post("/accounts/email/", {"action": "add", "email": email}, follow=True)
             for email in ("free@example.com", "claimed@example.com", "taken@example.com")]

    assert [p.status_code for p in pages] == [200, 200, 200]
    for page, email in zip(pages, ("free", "claimed", "taken"), strict=True):
        assert f"We sent a verification link to {email}@example.com.".encode() in page.content


def test_bad_input_is_still_refused(user, adder):
    claim(adder)
    client = api_client(user)

    for body in ({"email": "not an address"}, {"email": ""}, {"email": ["owner@example.com"]},
                 {"email": "x" * 250 + "@example.com"}, {}):
        response = api_post(client, "emails/", body)
        assert response.status_code == 400, body
        assert error_code(response) == "invalid"
    assert rows() == [(adder.pk, False, False)]


@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
def test_adding_without_verification_removes_the_other_claims(user, adder):
    EmailAddress.objects.create(user=adder, email=ADDRESS)

    assert api_post(api_client(user), "emails/", {"email": ADDRESS}).status_code == 202

    assert rows() == [(user.pk, True, False)]


def test_resending_a_link_for_an_address_taken_since_mails_its_owner_a_notice(client, adder):
    adder_client, _ = claim(adder)
    signup_html(client)
    row = EmailAddress.objects.get(user=adder, email=ADDRESS)
    links_before = mailed(ADDRESS, VERIFY_SUBJECT)

    response = api_post(adder_client, f"emails/{row.pk}/resend/")

    assert response.status_code == 202  # the answer any resend gets
    assert mailed(ADDRESS, VERIFY_SUBJECT) == links_before
    assert mailed(ADDRESS, "entered on another account") == 1


# --- side roads to verification ----------------------------------------------------------

@override_settings(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION="none")
def test_without_verification_an_old_claim_becomes_primary_only_if_no_one_holds_it(
        user, adder, other):
    client = api_client(adder)
    free = EmailAddress.objects.create(user=adder, email="free@example.com")
    EmailAddress.objects.create(user=other, email="free@example.com")
    taken = EmailAddress.objects.create(user=adder, email=user.email)  # user's login address

    response = api_post(client, f"emails/{taken.pk}/primary/")
    assert response.status_code == 409
    assert error_code(response) == "email_in_use"
    adder.refresh_from_db()
    assert adder.email == "adder@example.com"

    assert api_post(client, f"emails/{free.pk}/primary/").status_code == 200
    adder.refresh_from_db()
    assert adder.email == "free@example.com"
    assert rows("free@example.com") == [(adder.pk, True, True)]


def test_a_magic_link_for_an_address_verified_elsewhere_signs_in_and_verifies_nothing(client):
    signup_html(client)
    owner = User.objects.get(email=ADDRESS)
    holder = UserFactory()
    EmailAddress.objects.create(user=holder, email=ADDRESS, verified=True)  # a lost race

    Client().post(reverse("accounts:magic_link"), {"email": ADDRESS})
    response = Client().post(last_link(ADDRESS))

    assert response.status_code == 302
    assert rows() == sorted([(holder.pk, True, False), (owner.pk, False, True)])
    owner.refresh_from_db()
    assert owner.check_password(OWNER_PASSWORD)  # nothing proved, nothing dropped


def test_staff_verifying_a_claim_in_the_admin_removes_the_other_claims(adder, other, staff):
    from tests.audit.support import form_data
    from tests.helpers import user_admin_url

    claim(other)
    row = EmailAddress.objects.create(user=adder, email=ADDRESS)
    client = Client()
    client.force_login(staff)
    page = client.get(user_admin_url("change", adder.pk)).content.decode()
    form = form_data(page, "user_form")
    [index] = [name.split("-")[1] for name, value in form.items()
               if name.startswith("email_addresses-") and name.endswith("-id")
               and value == [str(row.pk)]]
    form[f"email_addresses-{index}-verified"] = ["on"]

    assert client.post(user_admin_url("change", adder.pk), form).status_code == 302

    row.refresh_from_db()
    assert row.verified and row.verified_at is not None
    assert rows() == [(adder.pk, True, False)]
    assert OneTimeToken.objects.get(user=other, email=ADDRESS).voided_at is not None


@pytest.mark.parametrize("held_as", ["verified", "login"])
def test_staff_cannot_verify_an_address_another_account_holds(adder, held_as):
    if held_as == "verified":
        holder = UserFactory()
        EmailAddress.objects.create(user=holder, email=ADDRESS, verified=True)
    else:
        holder = UserFactory(email=ADDRESS, verified_email=False)
    row = EmailAddress.objects.create(user=adder, email=ADDRESS)

    form = EmailAddressForm(data={"email": ADDRESS, "primary": "", "verified": "on"}, instance=row)

    assert not form.is_valid()
    assert "Another account already uses this address." in form.non_field_errors()
    row.refresh_from_db()
    assert not row.verified
    assert EmailAddress.objects.filter(user=holder, email=ADDRESS).exists()


def test_unlocking_an_account_leaves_alone_an_address_it_only_claims(adder):
    owner = UserFactory(email=ADDRESS)
    EmailAddress.objects.create(user=adder, email=ADDRESS)
    LoginThrottle.objects.create(identifier=ADDRESS, failures=9)

    lockout.account_unlock(adder)

    assert LoginThrottle.objects.filter(identifier=ADDRESS).exists()
    lockout.account_unlock(owner)
    assert not LoginThrottle.objects.filter(identifier=ADDRESS).exists()


def test_demo_user_refuses_an_address_another_account_has_verified(db):
    holder = UserFactory()
    EmailAddress.objects.create(user=holder, email="demo@example.com", verified=True)

    with pytest.raises(CommandError, match="Another account already uses this address"):
        call_command("demo_user", "--email", "demo@example.com",
                     "--password", "staging-only-passphrase-7", stdout=StringIO())

    assert not User.objects.filter(email="demo@example.com").exists()
    assert rows("demo@example.com") == [(holder.pk, True, False)]
