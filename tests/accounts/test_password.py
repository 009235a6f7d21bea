"""Changing and resetting a password: other sessions end, the user is told, reset links are
single use and short-lived, sign nobody in and reveal nothing about unknown addresses."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import EmailAddress, OneTimeToken, UserSession
from tests.accounts.support import (
    AUTH_KEY,
    api_post,
    error_code,
    freeze,
    html_login,
    is_signed_in,
    mailed,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, outbox_for, token_from

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a brand new long passphrase"
CHANGE = "/accounts/password/change/"
RESET = "/accounts/password/reset/"


def new_password_form(password=NEW_PASSWORD):
    return {"new_password": password, "new_password_confirm": password}


def change_form(current, password=NEW_PASSWORD):
    return {"current_password": current, **new_password_form(password)}


# --- change ---------------------------------------------------------------------------------

def test_html_change_ends_other_sessions_and_tells_the_user(user, password):
    laptop, phone = Client(), Client()
    signed_in_html(laptop, user.email, password)
    signed_in_html(phone, user.email, password)

    response = laptop.post(CHANGE, change_form(password))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert phone.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert mailed(user.email, "password was changed") == 1
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1
    assert UserSession.objects.get(user=user, end_reason="password_changed")


def test_api_change_ends_other_sessions_and_tells_the_user(user, password):
    laptop, phone = Client(), Client()
    signed_in_api(laptop, user.email, password)
    signed_in_api(phone, user.email, password)

    response = api_post(laptop, "password/change/",
                        {"current_password": password, "new_password": NEW_PASSWORD})

    assert response.status_code == 200
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert mailed(user.email, "password was changed") == 1
    assert not html_login(Client(), user.email, password).has_header("Location")
    assert html_login(Client(), user.email, NEW_PASSWORD)["Location"] == "/accounts/"


def test_change_requires_matching_confirmation_and_policy(client, user, password):
    signed_in_html(client, user.email, password)

    mismatch = client.post(CHANGE, {"current_password": password, "new_password": NEW_PASSWORD,
                                    "new_password_confirm": NEW_PASSWORD + "x"})
    assert b"The two passwords differ." in mismatch.content
    weak = client.post(CHANGE, change_form(password, "short"))
    assert b"Use at least 15 characters." in weak.content
    api_weak = api_post(client, "password/change/",
                        {"current_password": password, "new_password": "short"})
    assert api_weak.status_code == 400
    assert error_code(api_weak) == "password_invalid"

    user.refresh_from_db()
    assert user.check_password(password)
    assert mailed(user.email, "password was changed") == 0


def test_html_change_asks_for_the_current_password_first(client, user, password):
    signed_in_html(client, user.email, password)
    page = client.get(CHANGE).content.decode()
    assert page.index('name="current_password"') < page.index('name="new_password"')
    assert 'autocomplete="current-password"' in page

    missing = client.post(CHANGE, new_password_form())
    wrong = client.post(CHANGE, change_form("not my password at all"))

    assert missing.status_code == wrong.status_code == 200
    assert missing.context["form"].errors == {"current_password": ["Enter your current password."]}
    assert wrong.context["form"].errors == {"current_password": ["The password is incorrect."]}
    user.refresh_from_db()
    assert user.check_password(password)
    assert mailed(user.email, "password was changed") == 0


def test_api_change_needs_the_current_password(client, user, password):
    signed_in_api(client, user.email, password)

    missing = api_post(client, "password/change/", {"new_password": NEW_PASSWORD})
    blank = api_post(client, "password/change/",
                     {"current_password": "", "new_password": NEW_PASSWORD})
    wrong = api_post(client, "password/change/",
                     {"current_password": NEW_PASSWORD, "new_password": NEW_PASSWORD})

    for response in (missing, blank):
        assert response.status_code == 400
        assert error_code(response) == "password_required"
        assert list(response.json()["error"]["fields"]) == ["current_password"]
    assert wrong.status_code == 400
    assert error_code(wrong) == "password_incorrect"
    assert list(wrong.json()["error"]["fields"]) == ["current_password"]
    user.refresh_from_db()
    assert user.check_password(password)


def test_of_two_changes_at_once_only_one_is_made(client, user, password, monkeypatch):
    # A double submit: the other request changes the password after this one checked the
    # current one and before it writes. Simulated by changing it at that very moment.
    from accounts.flows import password as password_flows

    signed_in_api(client, user.email, password)
    real_check = password_flows.password_check

    def the_other_request_wins(new_password, account, **kwargs):
        real_check(new_password, account, **kwargs)
        other = type(user).objects.get(pk=user.pk)
        other.set_password("the other tab's passphrase")
        other.save(update_fields=["password"])

    monkeypatch.setattr(password_flows, "password_check", the_other_request_wins)
    response = api_post(client, "password/change/",
                        {"current_password": password, "new_password": NEW_PASSWORD})

    assert error_code(response) == "password_incorrect"
    user.refresh_from_db()
    assert user.check_password("the other tab's passphrase")


def test_wrong_current_passwords_count_towards_the_lockout(client, user, password):
    """A stolen session cookie is no way to guess the password: each wrong current password
    counts as a failed sign-in of the account from that browser."""
    signed_in_api(client, user.email, password)
    for _ in range(5):
        response = api_post(client, "password/change/",
                            {"current_password": "not my password at all",
                             "new_password": NEW_PASSWORD})
        assert error_code(response) == "password_incorrect"

    locked = api_post(client, "password/change/",
                      {"current_password": password, "new_password": NEW_PASSWORD})
    signing_in = html_login(client, user.email, password)
    elsewhere = html_login(Client(), user.email, password)  # another browser, same network

    assert locked.status_code == 429
    assert error_code(locked) == "account_locked"
    assert int(locked["Retry-After"]) > 0
    assert signing_in.status_code == 429
    assert elsewhere.status_code == 302  # the guesses were that browser's own
    user.refresh_from_db()
    assert user.check_password(password)


def signed_in_by_link(client, user) -> None:
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    page, confirm = open_link(client, last_link(user.email))
    assert client.post(confirm, link_form(page)).status_code == 302


def test_an_account_without_a_password_sets_its_first_one(client):
    user = UserFactory(password=None)
    signed_in_by_link(client, user)
    page = client.get(CHANGE)
    assert b'name="current_password"' not in page.content
    assert b'name="new_password"' in page.content

    response = client.post(CHANGE, new_password_form())

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_api_an_account_without_a_password_sets_its_first_one(client):
    user = UserFactory(password=None)
    signed_in_by_link(client, user)
    response = api_post(client, "password/change/", {"new_password": NEW_PASSWORD})
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_change_needs_a_session(client):
    assert client.get(CHANGE)["Location"].startswith("/accounts/login/")
    response = api_post(client, "password/change/", {"new_password": NEW_PASSWORD})
    assert response.status_code == 403


# --- reset ----------------------------------------------------------------------------------

def request_reset(client, email):
    return client.post(RESET, {"email": email})


def test_html_reset_link_sets_a_password_without_signing_in(client, user, password):
    response = request_reset(client, user.email.upper())
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mailed(user.email, "reset your password") == 1
    link = last_link(user.email)

    page, confirm = open_link(client, link)
    assert page.status_code == 200
    assert user.email.encode() in page.content

    done = client.post(confirm, link_form(page, **new_password_form()))

    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/"
    assert AUTH_KEY not in client.session
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(password)
    assert mailed(user.email, "password was changed") == 1


def test_api_reset_sets_a_password_without_signing_in(client, user):
    response = api_post(client, "password/reset/", {"email": user.email})
    assert response.status_code == 202
    token = token_from(last_link(user.email))

    done = api_post(client, "password/reset/confirm/", {"token": token,
                                                        "new_password": NEW_PASSWORD})

    assert done.status_code == 200
    assert not is_signed_in(client)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_reset_link_works_once(client, user):
    request_reset(client, user.email)
    link = last_link(user.email)
    client.post(link, new_password_form())

    assert client.get(link).status_code == 400
    again = client.post(link, new_password_form("another long passphrase"))
    assert again.status_code == 400
    api = api_post(client, "password/reset/confirm/", {"token": token_from(link),
                                                       "new_password": "another long passphrase"})
    assert error_code(api) == "token_invalid"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_reset_get_consumes_nothing(client, user):
    request_reset(client, user.email)
    link = last_link(user.email)
    client.get(link)
    client.get(link)
    assert client.post(link, new_password_form()).status_code == 302


def test_reset_with_a_weak_password_keeps_the_link(client, user):
    request_reset(client, user.email)
    link = last_link(user.email)

    weak = client.post(link, new_password_form("short"))
    assert weak.status_code == 200
    assert b"Use at least 15 characters." in weak.content
    assert client.post(link, new_password_form()).status_code == 302


def dead_reset_link(client, user, time_machine, how: str) -> str:
    """A reset link of ``user`` that can no longer be used, in the way ``how`` says."""
    if how == "forged":
        return reverse("accounts:password_reset_confirm", kwargs={"token": "A" * 43})
    freeze(time_machine)
    request_reset(client, user.email)
    link = last_link(user.email)
    if how == "used":
        assert client.post(link, new_password_form()).status_code == 302
    elif how == "expired":
        time_machine.shift(3601)
    elif how == "voided":
        request_reset(client, user.email)
    return link


DEAD_LINKS = ["forged", "used", "expired", "voided"]
BAD_NEW_PASSWORDS = [
    {"new_password": NEW_PASSWORD, "new_password_confirm": "not the same at all"},
    {"new_password": "", "new_password_confirm": ""},
    {},
    {"new_password": "x" * 5000, "new_password_confirm": "x" * 5000},
]


@pytest.mark.parametrize("how", DEAD_LINKS)
@pytest.mark.parametrize("typed", BAD_NEW_PASSWORDS)
def test_html_dead_reset_link_is_refused_before_the_password_is_checked(
        client, user, time_machine, how, typed):
    link = dead_reset_link(client, user, time_machine, how)
    stored = user.__class__.objects.get(pk=user.pk).password

    response = client.post(link, typed)

    assert response.status_code == 400
    assert [t.name for t in response.templates][0] == "accounts/token_invalid.html"
    assert b"invalid, expired or already used" in response.content
    assert b"The two passwords differ" not in response.content
    assert b"This field is required" not in response.content
    assert user.__class__.objects.get(pk=user.pk).password == stored


@pytest.mark.parametrize("how", ["used", "expired", "voided"])
def test_html_dead_reset_link_kept_in_the_session_is_refused_before_the_password(
        client, user, time_machine, how):
    freeze(time_machine)
    request_reset(client, user.email)
    link = last_link(user.email)
    page, confirm = open_link(client, link)
    if how == "used":  # in another browser, say
        assert Client().post(link, new_password_form()).status_code == 302
    elif how == "expired":
        time_machine.shift(3601)
    else:
        request_reset(client, user.email)

    response = client.post(confirm, link_form(page, new_password="short",
                                              new_password_confirm="differs"))

    assert response.status_code == 400
    assert b"invalid, expired or already used" in response.content
    assert b"The two passwords differ" not in response.content


@pytest.mark.parametrize("how", DEAD_LINKS)
@pytest.mark.parametrize("typed", [{"new_password": ""}, {}, {"new_password": "x" * 5000},
                                   {"new_password": 12345}, {"new_password": None}])
def test_api_dead_reset_token_is_refused_before_the_password_is_checked(
        client, user, time_machine, how, typed):
    token = token_from(dead_reset_link(client, user, time_machine, how))
    stored = user.__class__.objects.get(pk=user.pk).password

    response = api_post(client, "password/reset/confirm/", {"token": token, **typed})

    assert response.status_code == 400
    assert error_code(response) == "token_invalid"
    assert "fields" not in response.json()["error"] or not response.json()["error"]["fields"]
    assert user.__class__.objects.get(pk=user.pk).password == stored


@pytest.mark.parametrize("typed", [{"new_password": ""}, {}, {"new_password": 12345}])
def test_api_live_reset_token_with_a_bad_password_shows_the_field_and_keeps_the_link(
        client, user, typed):
    request_reset(client, user.email)
    token = token_from(last_link(user.email))

    response = api_post(client, "password/reset/confirm/", {"token": token, **typed})

    assert response.status_code == 400
    assert error_code(response) != "token_invalid"
    assert "new_password" in response.json()["error"]["fields"]
    done = api_post(client, "password/reset/confirm/", {"token": token,
                                                        "new_password": NEW_PASSWORD})
    assert done.status_code == 200


def test_api_reset_without_a_usable_token_field_still_says_which_field(client):
    response = api_post(client, "password/reset/confirm/", {"token": 12345, "new_password": ""})

    assert response.status_code == 400
    assert "token" in response.json()["error"]["fields"]


@pytest.mark.parametrize("via", ["html", "api"])
def test_reset_posts_with_a_bad_password_count_once_towards_the_link_rate_limit(
        client, settings, time_machine, via):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"token_confirm": {"ip": "3/5m"}}
    forged = reverse("accounts:password_reset_confirm", kwargs={"token": "A" * 43})

    def attempt():
        if via == "html":
            return client.post(forged, {"new_password": "", "new_password_confirm": ""})
        return api_post(client, "password/reset/confirm/",
                        {"token": token_from(forged), "new_password": ""})

    assert [attempt().status_code for _ in range(3)] == [400, 400, 400]
    limited = attempt()
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0


def test_html_live_reset_link_with_mismatched_passwords_shows_the_form_and_keeps_the_link(
        client, user):
    request_reset(client, user.email)
    page, confirm = open_link(client, last_link(user.email))

    response = client.post(confirm, link_form(page, new_password=NEW_PASSWORD,
                                              new_password_confirm="not the same at all"))

    assert response.status_code == 200
    assert b"The two passwords differ" in response.content
    assert user.email.encode() in response.content  # still says whose password it sets
    assert client.post(confirm, link_form(page, **new_password_form())).status_code == 302


def test_html_live_reset_link_with_a_password_the_policy_refuses_still_names_the_account(
        client, user):
    request_reset(client, user.email)
    page, confirm = open_link(client, last_link(user.email))
    common = "password1234"  # long enough, but on the blocklist

    response = client.post(confirm, link_form(page, new_password=common,
                                              new_password_confirm=common))

    assert response.status_code == 200
    assert response.context["form"].errors["new_password"]
    assert f"For <strong>{user.email}</strong>" in response.content.decode()
    assert client.post(confirm, link_form(page, **new_password_form())).status_code == 302


@pytest.mark.parametrize("via", ["html", "api"])
def test_reset_link_is_short_lived(client, user, password, time_machine, via):
    freeze(time_machine)
    request_reset(client, user.email)
    link = last_link(user.email)

    time_machine.shift(3601)
    if via == "html":
        assert client.get(link).status_code == 400
        assert client.post(link, new_password_form()).status_code == 400
    else:
        response = api_post(client, "password/reset/confirm/",
                            {"token": token_from(link), "new_password": NEW_PASSWORD})
        assert error_code(response) == "token_invalid"
    user.refresh_from_db()
    assert user.check_password(password)


@override_settings(AUTHSUITE_ACCOUNTS_PASSWORD_RESET_TIMEOUT=300)
def test_reset_timeout_is_configurable(client, user, time_machine):
    freeze(time_machine)
    request_reset(client, user.email)
    link = last_link(user.email)
    time_machine.shift(299)
    assert open_link(client, link)[0].status_code == 200
    time_machine.shift(2)
    assert client.get(link).status_code == 400


def test_newer_reset_link_voids_the_older(client, user):
    request_reset(client, user.email)
    older = last_link(user.email)
    request_reset(client, user.email)
    assert client.post(older, new_password_form()).status_code == 400
    assert client.post(last_link(user.email), new_password_form()).status_code == 302


def test_reset_ends_every_session(user, password):
    laptop, phone, stranger = Client(), Client(), Client()
    signed_in_html(laptop, user.email, password)
    signed_in_api(phone, user.email, password)

    request_reset(stranger, user.email)
    stranger.post(last_link(user.email), new_password_form())

    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert set(UserSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        "password_reset"
    }


def test_reset_from_a_signed_in_browser_ends_that_session_too(client, user, password):
    signed_in_html(client, user.email, password)
    request_reset(client, user.email)
    client.post(last_link(user.email), new_password_form())
    assert not is_signed_in(client)


@pytest.mark.parametrize("via", ["html", "api"])
def test_reset_for_an_unknown_address_looks_the_same_and_sends_no_link(client, user, via):
    if via == "html":
        known = request_reset(client, user.email)
        unknown = request_reset(client, "nobody@example.com")
        assert known.status_code == unknown.status_code == 302
        assert known["Location"] == unknown["Location"]
    else:
        known = api_post(client, "password/reset/", {"email": user.email})
        unknown = api_post(client, "password/reset/", {"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
    [notice] = outbox_for("nobody@example.com")
    assert "no account" in notice.subject
    assert "password reset link" in notice.body
    assert "/password/reset/" not in notice.body  # nothing to reset with
    assert "/accounts/signup/" in notice.body
    [html] = [body for body, kind in notice.alternatives if kind == "text/html"]
    assert "/accounts/signup/" in html
    assert len(mail.outbox) == 2


def test_the_unknown_address_notice_offers_no_sign_up_when_it_is_closed(client, settings):
    settings.AUTHSUITE_ACCOUNTS_SIGNUP_OPEN = False

    request_reset(client, "nobody@example.com")

    [notice] = outbox_for("nobody@example.com")
    assert "signup" not in notice.body


def test_reset_for_an_inactive_account_sends_no_link_but_a_notice(client):
    inactive = UserFactory(is_active=False)
    assert request_reset(client, inactive.email)["Location"] == "/accounts/password/reset/sent/"
    [notice] = mail.outbox
    assert notice.to == [inactive.email]
    assert "disabled" in notice.subject
    assert "/password/reset/" not in notice.body
    assert not OneTimeToken.objects.exists()


def test_reset_marks_the_address_verified(client):
    user = UserFactory(verified_email=False)
    request_reset(client, user.email)
    client.post(last_link(user.email), new_password_form())

    address = EmailAddress.objects.get(user=user)
    assert address.verified is True
    assert address.verified_at is not None


def test_reset_is_rate_limited_per_account(client, user, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    for _ in range(3):  # per (address, IP); tests/accounts/test_mail_limits.py has the rest
        assert api_post(client, "password/reset/", {"email": user.email}).status_code == 202
    response = api_post(client, "password/reset/", {"email": user.email})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert len(outbox_for(user.email)) == 3
    html = request_reset(client, user.email)
    assert html.status_code == 429
    assert b"Too many attempts" in html.content


def test_reset_page_link_from_login(client):
    assert reverse("accounts:password_reset").encode() in client.get("/accounts/login/").content
