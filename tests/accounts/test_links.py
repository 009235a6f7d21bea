"""Emailed links: the token leaves the URL at the first GET.

The first GET checks the token (consuming nothing), keeps it sealed in the session and
redirects to the same page with ``confirm`` in its place. The confirmation page, its form,
the address bar and every Referer then carry no token, and the session table holds it only
encrypted.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import EmailAddress, OneTimeToken
from tests.accounts.support import cookie_session_key, plant_session
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, token_from

pytestmark = pytest.mark.django_db

AUTH_KEY = "_auth_user_id"
NEW_PASSWORD = "a brand new passphrase 2026"


def magic_link(client, user):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    return last_link(user.email)


def password_reset(client, user):
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    return last_link(user.email)


SIGNUP_PASSWORD = "signing up in 2026 today"


def verify_email(client, user):
    client.post(reverse("accounts:signup"), {"email": "new@example.com",
                                              "password": SIGNUP_PASSWORD, "name": "New"})
    return last_link("new@example.com")


KINDS = {
    "magic_link": (magic_link, {}, "/accounts/magic-link/confirm/"),
    "password_reset": (password_reset, {"new_password": NEW_PASSWORD,
                                        "new_password_confirm": NEW_PASSWORD},
                       "/accounts/password/reset/confirm/"),
    # Not signed in as the account: the person confirming proves its password too.
    "verify_email": (verify_email, {"password": SIGNUP_PASSWORD},
                     "/accounts/email/verify/confirm/"),
}


@pytest.fixture(params=list(KINDS))
def kind(request):
    return request.param


@pytest.fixture
def account(db):
    return UserFactory()


def used(link: str) -> bool:
    from accounts import tokens

    token = token_from(link)
    return all(tokens.token_peek(token, purpose=purpose) is None for purpose in tokens.Purpose)


def every_stored_value() -> str:
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from introspection
            parts.extend(repr(row) for row in cursor.fetchall())
    parts.extend(repr(s.get_decoded()) for s in Session.objects.all())
    return "\n".join(parts)


def test_the_first_get_moves_the_token_into_the_session_and_redirects(client, account, kind):
    make, _, confirm = KINDS[kind]
    link = make(client, account)

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == confirm
    assert f"_authsuite_link_{kind}" in client.session
    assert "no-store" in response["Cache-Control"]
    assert not used(link)


def test_the_confirmation_page_carries_no_token(client, account, kind):
    make, _, confirm = KINDS[kind]
    link = make(client, account)
    token = token_from(link)

    page, url = open_link(client, link)

    assert page.status_code == 200
    assert url == confirm
    assert token.encode() not in page.content
    assert b'method="post"' in page.content
    assert "no-store" in page["Cache-Control"]


def test_the_session_holds_the_token_only_sealed(client, account, kind):
    make, _, _ = KINDS[kind]
    link = make(client, account)
    open_link(client, link)

    stored = client.session[f"_authsuite_link_{kind}"]
    assert stored and token_from(link) not in stored
    assert token_from(link) not in every_stored_value()


def test_posting_the_confirmation_uses_the_link_once_and_forgets_it(client, account, kind):
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    page, _ = open_link(client, link)

    response = client.post(confirm, link_form(page, **form))

    assert response.status_code == 302
    assert used(link)
    assert f"_authsuite_link_{kind}" not in client.session
    again = client.get(confirm)
    assert again.status_code == 400
    assert b"holds no link to confirm" in again.content


def test_another_browser_cannot_confirm_what_this_one_opened(client, account, kind):
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    page, _ = open_link(client, link)
    other = Client()

    shown = other.get(confirm)
    posted = other.post(confirm, link_form(page, **form))

    assert shown.status_code == posted.status_code == 400
    assert b"holds no link to confirm" in posted.content
    assert "no-store" in posted["Cache-Control"]
    assert not used(link)
    assert AUTH_KEY not in other.session


def test_the_link_still_works_in_a_browser_of_its_own(client, account, kind):
    """Opened on a phone, say: that browser's session holds it, and it is confirmed there."""
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    phone = Client()

    page, url = open_link(phone, link)
    assert page.status_code == 200
    assert phone.post(url, link_form(page, **form)).status_code == 302
    assert used(link)


def test_posting_to_the_link_itself_still_works(client, account, kind):
    """A confirmation page rendered before this change posts to the link's own URL."""
    make, form, _ = KINDS[kind]
    link = make(client, account)

    assert client.post(link, form).status_code == 302
    assert used(link)


def test_an_invalid_token_is_refused_at_once_and_not_kept(client, kind):
    path = KINDS[kind][2].replace("confirm", "A" * 43)

    response = client.get(path)

    assert response.status_code == 400
    assert f"_authsuite_link_{kind}" not in client.session


def test_a_tampered_session_value_counts_as_no_link(client, account, kind):
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    page, _ = open_link(client, link)
    session = client.session
    session[f"_authsuite_link_{kind}"] = "not-a-sealed-value"
    session.save()

    assert client.get(confirm).status_code == 400
    assert client.post(confirm, link_form(page, **form)).status_code == 400
    assert not used(link)


def test_the_query_string_follows_the_redirect(client, account):
    link = magic_link(client, account)

    response = client.get(f"{link}?next=/accounts/sessions/")
    assert response["Location"] == "/accounts/magic-link/confirm/?next=/accounts/sessions/"
    page = client.get(response["Location"])
    assert b'name="next" value="/accounts/sessions/"' in page.content
    signed_in = client.post(response["Location"], link_form(page, next="/accounts/sessions/"))
    assert signed_in["Location"] == "/accounts/sessions/"


def test_a_newer_link_replaces_the_one_kept(client, account):
    first = magic_link(client, account)
    open_link(client, first)
    second = magic_link(client, account)
    page, confirm = open_link(client, second)

    assert client.post(confirm, link_form(page)).status_code == 302
    assert client.session[AUTH_KEY] == str(account.pk)
    assert used(second)


def test_a_link_swapped_in_after_the_page_was_shown_is_not_confirmed(client, account):
    """A site sends the browser to its own link (a top-level navigation carries the Lax
    session cookie) while the person looks at theirs: the click confirms neither."""
    victim_page, confirm = open_link(client, magic_link(client, account))
    assert account.email.encode() in victim_page.content
    intruder = UserFactory()
    intruders_link = magic_link(Client(), intruder)
    client.get(intruders_link)  # now kept in the person's session

    response = client.post(confirm, link_form(victim_page))

    assert response.status_code == 400
    assert b"Another link was opened in this browser" in response.content
    assert AUTH_KEY not in client.session
    assert not used(intruders_link)


def test_a_post_without_the_reference_is_refused(client, account, kind):
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    open_link(client, link)

    for reference in ({}, {"link": ""}, {"link": "x" * 32}, {"link": "é" * 5000}):
        response = client.post(confirm, {**form, **reference})
        assert response.status_code == 400
    assert not used(link)


def test_signing_in_drops_links_kept_before(client, account, password):
    """Someone left a reset link open; the next person to sign in here cannot finish it."""
    link = password_reset(client, account)
    open_link(client, link)
    other = UserFactory(password=password)

    client.post(reverse("accounts:login"), {"email": other.email, "password": password})

    assert client.session[AUTH_KEY] == str(other.pk)
    assert client.get("/accounts/password/reset/confirm/").status_code == 400
    assert not used(link)


def test_a_weak_password_keeps_the_link_for_another_try(client, account):
    link = password_reset(client, account)
    page, confirm = open_link(client, link)

    weak = client.post(confirm, link_form(page, new_password="short",
                                          new_password_confirm="short"))
    assert weak.status_code == 200
    assert token_from(link).encode() not in weak.content
    assert not used(link)
    assert client.post(confirm, link_form(weak, **KINDS["password_reset"][1])).status_code == 302
    assert used(link)


def test_verifying_an_address_marks_it(client, account):
    link = verify_email(client, account)
    page, confirm = open_link(client, link)
    client.post(confirm, link_form(page, password=SIGNUP_PASSWORD))
    assert EmailAddress.objects.get(email="new@example.com").verified is True
    assert OneTimeToken.objects.filter(used_at__isnull=False).count() == 1


def test_a_non_ascii_query_string_arrives_intact(client, account):
    link = magic_link(client, account)

    response = client.get(f"{link}?next=/accounts/sessions/%3Fq%3Dcaf%C3%A9")
    page = client.get(response["Location"])

    assert page.status_code == 200
    assert 'name="next" value="/accounts/sessions/?q=café"'.encode() in page.content


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "\\\\evil.example", "/%2F%2Fevil.example", "%2F%2Fevil.example"])
def test_a_next_kept_through_the_redirect_cannot_leave_the_site(client, account, target):
    link = magic_link(client, account)

    opened = client.get(f"{link}?next={target}")
    page = client.get(opened["Location"])
    done = client.post(opened["Location"], link_form(page))

    assert done.status_code == 302
    assert done["Location"].startswith("/") and not done["Location"].startswith("//")
    assert "evil" not in done["Location"]


def test_a_sign_in_outside_the_pipeline_drops_kept_links_too(client, account):
    link = password_reset(client, account)
    open_link(client, link)

    client.force_login(UserFactory())  # as a third-party sign-in view would

    assert client.get("/accounts/password/reset/confirm/").status_code == 400


def test_posting_another_link_directly_keeps_the_one_kept(client, account):
    """A confirmation page open in another tab still works after an older page posted to
    its own link's URL."""
    kept_link = password_reset(client, account)
    page, confirm = open_link(client, kept_link)
    other_link = password_reset(Client(), UserFactory())

    assert client.post(other_link, KINDS["password_reset"][1]).status_code == 302

    assert client.post(confirm, link_form(page, **KINDS["password_reset"][1])).status_code == 302
    assert used(kept_link)


def test_a_session_key_planted_before_the_link_is_opened_holds_no_link(client, account, kind):
    """Someone who fixed this browser's session key (a cookie set from a sibling subdomain,
    say) must not find the person's link in that session and confirm it in their own
    browser: signed in as the person, or the person's password chosen by them."""
    make, form, confirm = KINDS[kind]
    link = make(client, account)
    planted = plant_session(client)

    open_link(client, link)

    assert cookie_session_key(client) != planted
    intruder = Client()
    intruder.cookies[settings.SESSION_COOKIE_NAME] = planted
    shown = intruder.get(confirm)
    assert shown.status_code == 400
    assert b"holds no link to confirm" in shown.content
    assert not used(link)
    # The person's own browser still confirms it.
    page = client.get(confirm)
    assert client.post(confirm, link_form(page, **form)).status_code == 302
    assert used(link)
