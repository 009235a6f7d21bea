"""The passkey sign-up link leaves its token out of the URL, as every emailed link does
(``tests/accounts/test_links.py``).

Its page used to keep the token in its URL for its script: in the address bar, the
browser's history and any screenshot or shared screen. The first GET now checks the token
(consuming nothing), keeps it sealed in the session and redirects to
``/passkeys/signup/confirm/``; the page's script posts the page's reference to the link the
session keeps, never the token. A client of the API still posts the token itself.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from passkeys.models import Passkey, PendingSignup
from tests.helpers import last_link, open_link, token_from
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import AUTH_KEY, ORIGIN, code, post, signed_in, signup_reference

pytestmark = pytest.mark.django_db

EMAIL = "newcomer@example.com"
CONFIRM = "/passkeys/signup/confirm/"
KEPT = "_authsuite_link_passkey_signup"
NOT_HELD = b"This browser holds no link to confirm"
DEAD = b"This sign-up link is invalid, expired or already used"


@pytest.fixture(autouse=True)
def signup_on(settings):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True


def request_link(email: str = EMAIL) -> str:
    response = Client().post("/passkeys/signup/", {"email": email})
    assert response.status_code == 302
    return last_link(email)


def create_passkey(browser, page, authenticator=None):
    """What the page's script does: options, the authenticator's answer, completion."""
    reference = signup_reference(page)
    options = post(browser, "passkeys/signup/options/", reference)
    if options.status_code != 200:
        return options
    credential = (authenticator or SoftAuthenticator()).create(options.json(), origin=ORIGIN)
    return post(browser, "passkeys/signup/complete/", {**reference, "credential": credential})


def unused() -> bool:
    return not PendingSignup.objects.filter(used_at__isnull=False).exists()


def test_the_first_get_moves_the_token_into_the_session_and_redirects(client):
    link = request_link()

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == CONFIRM
    assert KEPT in client.session
    assert "no-store" in response["Cache-Control"]
    assert unused()
    assert not get_user_model().objects.exists()


def test_the_page_its_url_and_the_history_carry_no_token(client):
    link = request_link()
    token = token_from(link)

    page = client.get(link, follow=True)

    assert page.status_code == 200
    # Where the browser ends up, and so what its address bar and history show.
    assert page.redirect_chain == [(CONFIRM, 302)]
    assert page.request["PATH_INFO"] == CONFIRM
    assert token.encode() not in page.content
    assert b"data-token" not in page.content
    assert EMAIL.encode() in page.content
    assert signup_reference(page)["link"]
    assert "no-store" in page["Cache-Control"]


def test_the_session_holds_the_token_only_sealed(client):
    link = request_link()
    open_link(client, link)

    stored = client.session[KEPT]
    assert stored and token_from(link) not in stored


def test_the_page_completes_the_sign_up_from_the_session(client):
    link = request_link()
    page, _ = open_link(client, link)

    response = create_passkey(client, page)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authenticated"
    user = get_user_model().objects.get(email=EMAIL)
    assert client.session[AUTH_KEY] == str(user.pk)
    assert Passkey.objects.filter(user=user).count() == 1
    assert KEPT not in client.session
    # Used up: the link and the page both say so, clearly.
    again = client.get(link)
    assert again.status_code == 400 and DEAD in again.content
    assert client.get(CONFIRM).status_code == 400


def test_a_scanner_opening_the_link_first_uses_nothing(client):
    """A mail scanner prefetches the link, redirect and page included, before the person
    opens it: the person's sign-up goes on as if it had not."""
    link = request_link()
    scanner = Client()
    scanned = scanner.get(link, follow=True)
    assert scanned.status_code == 200
    assert unused()

    page, _ = open_link(client, link)
    assert page.status_code == 200
    assert create_passkey(client, page).json()["status"] == "authenticated"
    # The scanner's session got a page, never the means to finish it once used.
    assert scanner.get(CONFIRM).status_code == 400
    assert not signed_in(scanner)
    assert get_user_model().objects.count() == 1


def test_two_tabs_of_one_browser_make_one_account(client):
    link = request_link()
    first, _ = open_link(client, link)
    second, _ = open_link(client, link)  # a new session key: the first tab's page still works
    assert signup_reference(first) == signup_reference(second)

    assert create_passkey(client, second).json()["status"] == "authenticated"
    late = create_passkey(client, first)

    assert late.status_code == 400
    assert code(late) == "token_invalid"
    assert get_user_model().objects.count() == 1
    assert Passkey.objects.count() == 1


def test_the_first_tab_still_works_after_the_second_opened_the_link(client):
    link = request_link()
    first, _ = open_link(client, link)
    open_link(client, link)

    assert create_passkey(client, first).json()["status"] == "authenticated"


def test_another_browser_holds_no_link(client):
    page, _ = open_link(client, request_link())
    other = Client()

    shown = other.get(CONFIRM)
    options = post(other, "passkeys/signup/options/", signup_reference(page))

    assert shown.status_code == 400 and NOT_HELD in shown.content
    assert code(options) == "token_invalid"
    assert NOT_HELD.decode() in options.json()["error"]["message"]
    assert unused()


def test_the_link_works_in_a_browser_of_its_own(client):
    """Asked for on a laptop, opened on a phone: that browser's session keeps it."""
    link = request_link()
    phone = Client()
    page, _ = open_link(phone, link)
    assert create_passkey(phone, page).json()["status"] == "authenticated"


def test_a_link_swapped_in_after_the_page_was_shown_is_not_used(client):
    """A site sends the browser to a sign-up link of its own (a top-level navigation
    carries the Lax session cookie) while the person looks at theirs: the person's passkey
    must not make the account of the other site's mailbox."""
    page, _ = open_link(client, request_link())
    intruders_link = request_link("intruder@example.com")
    client.get(intruders_link)  # now kept in the person's session

    response = create_passkey(client, page)

    assert code(response) == "token_invalid"
    assert "Another link was opened" in response.json()["error"]["message"]
    assert not get_user_model().objects.exists()
    assert unused()


def test_a_dead_link_gets_the_clear_page_and_is_not_kept(client):
    response = client.get(f"/passkeys/signup/{'A' * 43}/")

    assert response.status_code == 400
    assert DEAD in response.content
    assert KEPT not in client.session


def test_a_tampered_session_value_counts_as_no_link(client):
    page, _ = open_link(client, request_link())
    session = client.session
    session[KEPT] = "not-a-sealed-value"
    session.save()

    assert client.get(CONFIRM).status_code == 400
    assert code(create_passkey(client, page)) == "token_invalid"
    assert unused()


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"link": ""}, {"token": "", "link": ""}])
def test_the_api_asks_for_the_token_or_the_pages_reference(client, body):
    response = post(client, "passkeys/signup/options/", body)

    assert response.status_code == 400
    assert code(response) == "invalid"
    assert set(response.json()["error"]["fields"]) <= {"token", "link"}
    assert response.json()["error"]["fields"]


def test_a_token_posted_to_the_api_goes_by_the_token_not_the_session(client):
    """A front end of the project's own posts its token, in a browser where the suite's
    page of another link is open: the token posted is the one used."""
    kept_page, _ = open_link(client, request_link())
    token = token_from(request_link("other@example.com"))
    options = post(client, "passkeys/signup/options/", {"token": token}).json()
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    done = post(client, "passkeys/signup/complete/", {"token": token, "credential": credential})
    assert done.json()["status"] == "authenticated"
    assert get_user_model().objects.get().email == "other@example.com"
    post(client, "logout/")

    # Signing in dropped the links this browser kept, as every sign-in does.
    assert client.get(CONFIRM).status_code == 400
    assert code(create_passkey(client, kept_page)) == "token_invalid"
