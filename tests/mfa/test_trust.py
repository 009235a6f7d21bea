"""Trusted browsers: "don't ask again" for AUTHSUITE_MFA_TRUST_BROWSER_DAYS through a signed,
HttpOnly cookie bound to its user, ended by any change of password or factor, listed and
revocable by the user."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import Event
from authsuite import crypto
from mfa import flows, trust
from mfa.models import TrustedBrowser
from tests.helpers import last_link
from tests.mfa.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_delete,
    api_get,
    api_post,
    begin_setup,
    enroll,
    error_code,
    login,
    page_secret,
    signed_in,
)

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")
COOKIE = "authsuite_mfa_trust"
NEW_PASSWORD = "a completely new passphrase 42"


@pytest.fixture
def secret(user):
    return enroll(user)[0]


def trust_this_browser(client, user, password, clock, secret):
    assert login(client, user, password)["Location"] == CHALLENGE
    clock.step()
    response = client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    assert response.status_code == 302 and AUTH_KEY in client.session
    return response


def asks_for_a_code(client, user, password) -> bool:
    if AUTH_KEY in client.session:
        client.post(reverse("accounts:logout"))
    response = login(client, user, password)
    assert response.status_code == 302
    return response["Location"] == CHALLENGE


@pytest.fixture
def trusted_client(client, user, password, clock, secret):
    trust_this_browser(client, user, password, clock, secret)
    return client


# --- the cookie -----------------------------------------------------------------------------


def test_the_cookie_is_signed_httponly_and_lasts_the_configured_days(client, user, password,
                                                                      clock, secret):
    response = trust_this_browser(client, user, password, clock, secret)
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == 30 * 86400
    assert not cookie["secure"]  # plain http in the test client
    value = signing.loads(cookie.value, salt=trust.SALT)
    assert value["u"] == str(user.pk)
    row = TrustedBrowser.objects.get(user=user)
    assert row.digest != value["t"] and value["t"] not in row.digest  # only a keyed digest
    assert row.expires_at - timezone.now() > timedelta(days=29, hours=23)


def test_the_cookie_is_secure_over_https(client, user, password, clock, secret):
    login(client, user, password, secure=True)
    response = client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"},
                           secure=True)
    assert response.cookies[COOKIE]["secure"] is True


def test_a_trusted_browser_is_not_asked_again(trusted_client, user, password):
    assert not asks_for_a_code(trusted_client, user, password)
    assert signed_in(trusted_client)
    # No second factor was shown in this session: its record says so.
    assert trusted_client.session[RECORD_KEY]["amr"] == ["pwd"]
    assert TrustedBrowser.objects.get(user=user).last_used_at is not None


def test_the_box_says_sensitive_actions_still_ask_for_the_code(client, user, password,
                                                               secret):
    """Trusting a browser spares its sign-ins the code, not its sensitive actions (see
    test_full_reauthentication): the box says so beside it, and so does the API's schema."""
    login(client, user, password)
    page = client.get(CHALLENGE).content.decode()
    field = page.split('id="id_trust_browser"', 1)[1].split("</div>", 1)[0]
    hint = ('<p class="hint" id="id_trust_browser_helptext">Signing in on this browser will skip '
            "this step. Sensitive changes, such as removing a sign-in factor or changing your "
            "password or email address, will still ask for it.</p>")
    assert hint in field
    schema = client.get("/api/auth/v1/schema/", {"format": "json"}).json()
    body = schema["paths"]["/api/auth/v1/mfa/challenge/"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    described = schema["components"]["schemas"][ref]["properties"]
    assert "still ask" in described["trust_browser"]["description"]


def test_without_the_box_the_browser_is_asked_again(client, user, password, clock, secret):
    login(client, user, password)
    client.post(CHALLENGE, {"code": clock.code(secret)})
    assert COOKIE not in client.cookies
    assert asks_for_a_code(client, user, password)


def test_trusting_over_the_api(client, user, password, clock, secret):
    api_post(client, "login/", {"email": user.email, "password": password})
    response = api_post(client, "mfa/challenge/", {"code": clock.code(secret),
                                                   "trust_browser": True})
    assert response.json() == {"status": "authenticated"}
    assert response.cookies[COOKIE]["httponly"] is True
    assert not asks_for_a_code(client, user, password)


def test_another_users_cookie_does_not_work(trusted_client, user, password, staff):
    enroll(staff)
    thief = Client()
    thief.cookies[COOKIE] = trusted_client.cookies[COOKIE].value
    assert asks_for_a_code(thief, staff, password)


def test_a_tampered_cookie_does_not_work(trusted_client, user, password):
    value = trusted_client.cookies[COOKIE].value
    trusted_client.cookies[COOKIE] = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert asks_for_a_code(trusted_client, user, password)


def test_a_forged_cookie_for_a_real_row_does_not_work(trusted_client, user, password):
    """Signed with the right key but a guessed token: the stored digest does not match."""
    row = TrustedBrowser.objects.get(user=user)
    value = signing.loads(trusted_client.cookies[COOKIE].value, salt=trust.SALT)
    trusted_client.cookies[COOKIE] = signing.dumps({**value, "t": "guess", "id": row.pk},
                                                   salt=trust.SALT)
    assert asks_for_a_code(trusted_client, user, password)


def test_the_promise_expires(trusted_client, user, password, time_machine):
    time_machine.move_to(timezone.now() + timedelta(days=29), tick=True)
    assert not asks_for_a_code(trusted_client, user, password)
    time_machine.move_to(timezone.now() + timedelta(days=2), tick=True)
    assert asks_for_a_code(trusted_client, user, password)


def test_the_number_of_days_is_a_setting(settings, client, user, password, clock, secret):
    settings.AUTHSUITE_MFA_TRUST_BROWSER_DAYS = 7
    login(client, user, password)
    page = client.get(CHALLENGE).content.decode()
    assert "for 7 days" in page
    response = client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    assert response.cookies[COOKIE]["max-age"] == 7 * 86400


def test_zero_days_turns_the_option_off(settings, client, user, password, clock, secret):
    settings.AUTHSUITE_MFA_TRUST_BROWSER_DAYS = 0
    login(client, user, password)
    assert "trust_browser" not in client.get(CHALLENGE).content.decode()
    response = client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    assert COOKIE not in response.cookies and not TrustedBrowser.objects.exists()


def test_the_cookie_name_is_a_setting(settings, client, user, password, clock, secret):
    settings.AUTHSUITE_MFA_TRUST_COOKIE_NAME = "keep"
    response = trust_this_browser(client, user, password, clock, secret)
    assert "keep" in response.cookies and COOKIE not in response.cookies
    assert not asks_for_a_code(client, user, password)


# --- what ends the promise ------------------------------------------------------------------


def test_a_password_change_ends_it(trusted_client, user, password):
    trusted_client.post(reverse("accounts:password_change"),
                        {"current_password": password, "new_password": NEW_PASSWORD,
                         "new_password_confirm": NEW_PASSWORD})
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert asks_for_a_code(trusted_client, user, NEW_PASSWORD)


def test_a_password_reset_ends_it(trusted_client, user, password):
    trusted_client.post(reverse("accounts:logout"))
    trusted_client.post(reverse("accounts:password_reset"), {"email": user.email})
    trusted_client.post(last_link(user.email), {"new_password": NEW_PASSWORD,
                                                "new_password_confirm": NEW_PASSWORD})
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert asks_for_a_code(trusted_client, user, NEW_PASSWORD)


def test_a_password_set_without_any_signal_ends_it(trusted_client, user, password):
    """``manage.py changepassword`` sends nothing; the cookie is bound to the hash anyway."""
    user.set_password(NEW_PASSWORD)
    user.save()
    assert TrustedBrowser.objects.filter(user=user).exists()
    assert asks_for_a_code(trusted_client, user, NEW_PASSWORD)


def argon2_first(settings) -> None:
    """A new configured hasher: the account's hash is stored again at its next sign-in."""
    settings.PASSWORD_HASHERS = ["accounts.hashers.Argon2idPasswordHasher",
                                 *settings.PASSWORD_HASHERS]
    settings.AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST = 1024
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 1


def test_the_same_password_stored_under_a_new_hash_does_not_end_it(settings, trusted_client,
                                                                     user, password):
    argon2_first(settings)
    before = user.__class__.objects.get(pk=user.pk).password
    login(Client(), user, password)  # the first factor stores the hash again

    assert user.__class__.objects.get(pk=user.pk).password != before
    assert not asks_for_a_code(trusted_client, user, password)


def test_a_new_password_after_a_new_hash_ends_it(settings, trusted_client, user, password):
    argon2_first(settings)
    login(Client(), user, password)
    fresh = user.__class__.objects.get(pk=user.pk)
    fresh.set_password(NEW_PASSWORD)
    fresh.save()
    assert asks_for_a_code(trusted_client, user, NEW_PASSWORD)


def test_a_cookie_tagged_with_the_stored_hash_itself_still_works(trusted_client, user,
                                                                  password):
    """As cookies were tagged before the tag stood for the session auth hash."""
    value = signing.loads(trusted_client.cookies[COOKIE].value, salt=trust.SALT)
    value["p"] = crypto.token_digest(user.password, purpose=trust.PASSWORD_TAG)[:16]
    trusted_client.cookies[COOKIE] = signing.dumps(value, salt=trust.SALT)
    assert not asks_for_a_code(trusted_client, user, password)

    user.set_password(NEW_PASSWORD)
    user.save()
    assert asks_for_a_code(trusted_client, user, NEW_PASSWORD)


def test_removing_the_app_ends_it(trusted_client, user, password, clock, secret):
    trusted_client.post(reverse("mfa:totp_remove"))
    assert not TrustedBrowser.objects.filter(user=user).exists()
    # Set up again: the old cookie is worth nothing.
    secret = page_secret(begin_setup(trusted_client).content)
    clock.step()
    trusted_client.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)})
    assert asks_for_a_code(trusted_client, user, password)


def test_adding_an_app_ends_it(trusted_client, user, password, clock):
    """Another browser trusted with the factor the user then replaces."""
    trusted_client.post(reverse("mfa:totp_remove"))
    other = Client()
    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    secret = page_secret(begin_setup(trusted_client).content)
    trusted_client.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)})
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert asks_for_a_code(other, user, password)


def test_new_recovery_codes_end_it(trusted_client, user, password):
    trusted_client.post(reverse("mfa:recovery_codes"))
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert asks_for_a_code(trusted_client, user, password)


def test_a_staff_reset_ends_it(trusted_client, user, password, staff):
    flows.mfa_reset(user, by=staff)
    assert not TrustedBrowser.objects.filter(user=user).exists()


def test_a_passkey_change_ends_it(trusted_client, user):
    from passkeys import signals as passkey_signals

    passkey_signals.passkey_added.send(sender=None, request=None, user=user, passkey_id=1,
                                       name="key", aaguid="")
    assert not TrustedBrowser.objects.filter(user=user).exists()


def test_signing_in_elsewhere_with_a_recovery_code_does_not_end_it(trusted_client, user,
                                                                    password):
    from mfa import recovery

    codes = recovery.generate(user)  # (replacing codes does; using one does not)
    TrustedBrowser.objects.create(user=user, digest="w" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    other = Client()
    login(other, user, password)
    assert other.post(CHALLENGE, {"code": codes[0]}).status_code == 302
    assert TrustedBrowser.objects.filter(user=user).count() == 2


# --- seeing and revoking --------------------------------------------------------------------


def test_the_overview_lists_and_revokes_one(trusted_client, user):
    row = TrustedBrowser.objects.get(user=user)
    page = trusted_client.get(reverse("mfa:index")).content.decode()
    assert f'name="trusted" value="{row.pk}"' in page
    assert f"{row.expires_at:%Y-%m-%d}" in page
    response = trusted_client.post(reverse("mfa:index"), {"action": "untrust",
                                                          "trusted": str(row.pk)})
    assert response["Location"] == reverse("mfa:index")
    assert not TrustedBrowser.objects.exists()
    data = [json.loads(e.data) for e in Event.objects.filter(action="mfa.browser.untrusted")]
    assert data == [{"trusted_id": row.pk}]


def test_the_overview_revokes_all(trusted_client, user):
    TrustedBrowser.objects.create(user=user, digest="y" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    trusted_client.post(reverse("mfa:index"), {"action": "untrust", "trusted": "all"})
    assert not TrustedBrowser.objects.exists()


def test_a_user_cannot_revoke_another_users_browser(trusted_client, staff):
    row = TrustedBrowser.objects.create(user=staff, digest="z" * 64,
                                        expires_at=timezone.now() + timedelta(days=3))
    trusted_client.post(reverse("mfa:index"), {"action": "untrust", "trusted": str(row.pk)})
    assert TrustedBrowser.objects.filter(pk=row.pk).exists()
    response = api_delete(trusted_client, f"mfa/trusted-browsers/{row.pk}/")
    assert response.status_code == 404
    assert TrustedBrowser.objects.filter(pk=row.pk).exists()


def test_the_api_lists_and_revokes(trusted_client, user):
    row = TrustedBrowser.objects.get(user=user)
    listed = api_get(trusted_client, "mfa/trusted-browsers/").json()
    assert [r["id"] for r in listed] == [row.pk]
    assert set(listed[0]) == {"id", "device", "created_at", "expires_at", "last_used_at"}
    assert "digest" not in json.dumps(listed)
    assert api_delete(trusted_client, f"mfa/trusted-browsers/{row.pk}/").status_code == 204
    response = api_delete(trusted_client, f"mfa/trusted-browsers/{row.pk}/")
    assert response.status_code == 404
    assert error_code(response) == "mfa_trusted_browser_not_found"


def test_trusting_is_audited(trusted_client, user):
    row = TrustedBrowser.objects.get(user=user)
    event = Event.objects.get(action="mfa.browser.trusted")
    assert json.loads(event.data) == {"trusted_id": row.pk}
    assert event.actor_id == str(user.pk)


def test_expired_promises_are_not_listed_and_are_dropped(trusted_client, user, password, clock,
                                                         secret):
    old = TrustedBrowser.objects.create(user=user, digest="e" * 64, device="Old browser",
                                        expires_at=timezone.now() - timedelta(seconds=1))
    page = trusted_client.get(reverse("mfa:index")).content.decode()
    assert "Old browser" not in page
    listed = api_get(trusted_client, "mfa/trusted-browsers/").json()
    assert old.pk not in [r["id"] for r in listed] and len(listed) == 1
    # The next "don't ask again" clears it away.
    other = Client()
    trust_this_browser(other, user, password, clock, secret)
    assert not TrustedBrowser.objects.filter(pk=old.pk).exists()


@pytest.mark.parametrize("trusted_id", [[1, 2], {"a": 1}, "abc", "9" * 30, True, None, 1.5])
def test_a_validly_signed_trust_cookie_with_an_odd_id_is_no_promise(user, trusted_id):
    # Signing needs SECRET_KEY, which the demo embeds: its payload is input like any other.
    from django.test import RequestFactory

    value = signing.dumps({"id": trusted_id, "u": str(user.pk), "t": "x",
                           "p": trust._password_tag(user)}, salt=trust.SALT)
    request = RequestFactory().get("/")
    request.COOKIES = {"authsuite_mfa_trust": value}
    assert trust.trusted(request, user) is None


def test_the_cookie_is_secure_where_the_session_cookie_is(settings, client, user, password,
                                                         clock, secret):
    """Behind a proxy that ends TLS the request may look plain: the cookie follows
    SESSION_COOKIE_SECURE as well, so a __Host- name (the production profile's) holds."""
    settings.SESSION_COOKIE_SECURE = True
    settings.AUTHSUITE_MFA_TRUST_COOKIE_NAME = "__Host-trust"

    cookie = trust_this_browser(client, user, password, clock, secret).cookies["__Host-trust"]

    assert cookie["secure"] is True
    assert cookie["path"] == "/" and not cookie["domain"] and cookie["httponly"] is True


@pytest.mark.parametrize("name", ["__Host-trust", "__Secure-trust"])
def test_a_prefixed_cookie_is_always_secure(settings, client, user, password, clock, secret,
                                            name):
    """Browsers drop a prefixed cookie that is not Secure: whatever the request looks like,
    it is set Secure (over plain HTTP the browser drops it either way)."""
    settings.AUTHSUITE_MFA_TRUST_COOKIE_NAME = name

    cookie = trust_this_browser(client, user, password, clock, secret).cookies[name]

    assert cookie["secure"] is True
