"""A passkey as the second factor of a password sign-in, and for reauthentication."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import authrecord
from audit.models import Event
from mfa.models import TOTPDevice
from passkeys.models import Passkey
from tests.factories import UserFactory
from tests.mfa.support import Clock, disabled, enroll, meanwhile, password_reset
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import (
    AUTH_KEY,
    ORIGIN,
    RECORD_KEY,
    add_passkey,
    auth_record,
    code,
    failure_reasons,
    login,
    password_client,
    post,
    signed_in,
)

pytestmark = pytest.mark.django_db


def password_step(client, user, password):
    response = post(client, "login/", {"email": user.email, "password": password})
    assert response.json()["status"] == "pending", response.json()
    assert response.json()["stage"] == "mfa"
    return response


def second_factor(client, authenticator, **get_kwargs):
    options = post(client, "passkeys/second-factor/options/")
    assert options.status_code == 200, options.content
    assertion = authenticator.get(options.json(), origin=ORIGIN, **get_kwargs)
    return post(client, "passkeys/second-factor/", {"credential": assertion})


def test_a_password_user_with_a_passkey_gets_the_mfa_stage_and_passes_it(
        user, password, authenticator, passkey):
    browser = Client()
    password_step(browser, user, password)
    assert not signed_in(browser)

    options = post(browser, "passkeys/second-factor/options/").json()
    assert [c["id"] for c in options["allowCredentials"]] == [passkey.credential_id]
    assert options["userVerification"] == "required"
    assertion = authenticator.get(options, origin=ORIGIN, user_handle=None)
    response = post(browser, "passkeys/second-factor/", {"credential": assertion})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "authenticated"
    assert browser.session[AUTH_KEY] == str(user.pk)
    record = auth_record(browser)
    assert record["amr"] == ["hwk", "mfa", "pwd", "user"]
    assert record["acr"] == "urn:authsuite:acr:phr"
    passkey.refresh_from_db()
    assert passkey.sign_count == 1


def test_the_challenge_page_offers_the_passkey(user, password, passkey):
    browser = Client()
    response = browser.post(reverse("accounts:login"), {"email": user.email,
                                                        "password": password})
    assert response["Location"] == reverse("mfa:challenge")
    page = browser.get(reverse("mfa:challenge")).content.decode()
    assert 'data-passkey="second-factor"' in page
    assert "Use a passkey" in page


def test_the_challenge_page_reads_the_pending_account_and_its_passkeys_once(
        user, password, passkey, django_assert_num_queries):
    """The passkey button reads the ways the page loaded for its own forms: the page's GET
    loads the session, the pending account, its factors (one query), its app, its usable
    passkeys and its recovery codes, and nothing twice."""
    browser = Client()
    browser.post(reverse("accounts:login"), {"email": user.email, "password": password})

    with django_assert_num_queries(6):
        page = browser.get(reverse("mfa:challenge")).content.decode()

    assert 'data-passkey="second-factor"' in page


def test_the_passkey_button_without_the_pages_ways_reads_them_itself(user, password, passkey):
    """A page that does not name the ways (a project's own) still gets the button right."""
    from passkeys import flows

    browser = Client()
    browser.post(reverse("accounts:login"), {"email": user.email, "password": password})
    request = browser.get(reverse("mfa:challenge")).wsgi_request

    assert flows.second_factor_button(request, {}) == {}
    assert flows.second_factor_button(request, {"ways": ["passkey"]}) == {}
    assert flows.second_factor_button(request, {"ways": ["totp"]}) is None
    Passkey.objects.filter(pk=passkey.pk).update(flagged_at=timezone.now())
    assert flows.second_factor_button(request, {}) is None


def test_a_user_with_totp_and_a_passkey_may_use_either(user, password, authenticator, passkey):
    enroll(user)
    browser = Client()
    password_step(browser, user, password)
    assert second_factor(browser, authenticator).json()["status"] == "authenticated"


def test_another_users_passkey_is_refused(user, password, passkey):
    other = UserFactory(password=password)
    thief = SoftAuthenticator()
    other_passkey = add_passkey(password_client(other, password), thief)
    browser = Client()
    password_step(browser, user, password)
    options = post(browser, "passkeys/second-factor/options/").json()
    assertion = thief.get(options, origin=ORIGIN)  # signs with its own (other's) passkey
    response = post(browser, "passkeys/second-factor/", {"credential": assertion})
    assert response.status_code == 400
    assert code(response) == "passkey_unknown_credential"
    assert not signed_in(browser)
    assert AUTH_KEY not in browser.session
    other_passkey.refresh_from_db()
    assert other_passkey.sign_count == 0 and other_passkey.last_used_at is None
    assert "other_user" in failure_reasons()


def test_a_bad_assertion_leaves_the_stage_pending(user, password, authenticator, passkey):
    browser = Client()
    password_step(browser, user, password)
    response = second_factor(browser, authenticator, tamper_signature=True)
    assert code(response) == "passkey_invalid"
    assert not signed_in(browser)
    passkey.refresh_from_db()
    assert passkey.sign_count == 0
    # The sign-in is still waiting for its second factor, which a good answer passes.
    assert second_factor(browser, authenticator).json()["status"] == "authenticated"


def test_no_pending_sign_in(db, authenticator):
    response = post(Client(), "passkeys/second-factor/options/")
    assert response.status_code == 409
    assert code(response) == "no_login_pending"


def test_only_as_the_current_step(user, password, passkey, authenticator, settings):
    """A sign-in waiting on another stage cannot pass the second factor out of turn."""
    browser = Client()
    password_step(browser, user, password)
    assert second_factor(browser, authenticator).json()["status"] == "authenticated"
    response = post(browser, "passkeys/second-factor/options/")
    assert response.status_code == 409


def test_a_passkey_without_uv_after_a_passkey_is_not_a_second_factor(user, password, settings):
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = "preferred"
    authenticator = SoftAuthenticator(user_verification=False)
    add_passkey(password_client(user, password), authenticator)
    browser = Client()
    first = post(browser, "passkeys/login/options/").json()
    response = post(browser, "passkeys/login/",
                    {"credential": authenticator.get(first, origin=ORIGIN)})
    assert response.json()["stage"] == "mfa"
    response = second_factor(browser, authenticator)
    assert response.status_code == 400
    assert code(response) == "passkey_not_second_factor"
    assert not signed_in(browser)
    assert Passkey.objects.get(user=user).sign_count == 1  # the refused use left no trace


@pytest.fixture
def passkey_without_uv_sign_in(user, password, settings, monkeypatch):
    """A passkey sign-in without user verification (something you have, alone) waiting at
    the second-factor stage of an account with an app, recovery codes and that passkey:
    (browser, the passkey's authenticator, TOTP clock, TOTP secret, recovery codes)."""
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = "preferred"
    authenticator = SoftAuthenticator(user_verification=False)
    add_passkey(password_client(user, password), authenticator)
    clock = Clock(monkeypatch)
    secret, codes = enroll(user)
    browser = Client()
    response = login(browser, authenticator)
    assert response.json()["stage"] == "mfa"
    return browser, authenticator, clock, secret, codes


@pytest.mark.parametrize("kind", ["totp", "recovery_code"])
def test_a_code_after_a_passkey_without_uv_is_not_a_second_factor(
        passkey_without_uv_sign_in, user, password, kind):
    """An authenticator app and a recovery code are something you have, as is a passkey
    that did not verify its user: the two together are one kind of factor, and the stage
    refuses the code as it refuses such a passkey, without spending it."""
    browser, _authenticator, clock, secret, codes = passkey_without_uv_sign_in
    one_time = clock.code(secret) if kind == "totp" else codes[0]

    response = post(browser, "mfa/challenge/", {"code": one_time})

    assert response.status_code == 400
    assert code(response) == "mfa_not_second_factor"
    assert not signed_in(browser)
    assert not Event.objects.filter(action__startswith="mfa.challenge").exists()
    # Still pending, and the code still unused: the password and the same code sign in.
    page = browser.post(reverse("mfa:challenge"), {"code": one_time}).content.decode()
    assert "same kind of factor as the passkey you signed in with" in page
    password_step(browser, user, password)
    assert post(browser, "mfa/challenge/", {"code": one_time}).json() == {
        "status": "authenticated"}
    assert auth_record(browser)["amr"] == ["mfa", "otp", "pwd"]


def test_a_passkey_without_uv_is_offered_no_code_at_the_stage(user, password, settings,
                                                              monkeypatch):
    """The ways through the stage the sign-in is offered are those it could pass: a passkey
    that verifies its user, not the app or a recovery code it would refuse."""
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = "preferred"
    authenticator = SoftAuthenticator(user_verification=False)
    add_passkey(password_client(user, password), authenticator)
    Clock(monkeypatch)
    enroll(user)
    browser = Client()

    pending = login(browser, authenticator).json()

    assert pending["stage"] == "mfa"
    assert pending["methods"] == ["passkey"]
    page = browser.get(reverse("mfa:challenge"))
    assert page.context["ways"] == ["passkey"]
    assert not page.context["has_app"] and not page.context["has_codes"]
    assert "the same kind of factor as the passkey you signed in with" in page.content.decode()
    assert browser.get(reverse("accounts:login")).status_code == 200  # the way offered instead
    # After the password, the same account is offered every way it has.
    password_step(browser, user, password)
    assert browser.get(reverse("mfa:challenge")).context["ways"] == [
        "totp", "passkey", "recovery_code"]


def test_a_passkey_that_verifies_its_user_passes_after_one_that_did_not(
        passkey_without_uv_sign_in, user, password):
    browser = passkey_without_uv_sign_in[0]
    verifying = SoftAuthenticator(user_verification=True)
    add_passkey(password_client_with_code(user, password, passkey_without_uv_sign_in), verifying)

    assert second_factor(browser, verifying).json()["status"] == "authenticated"
    assert auth_record(browser)["amr"] == ["hwk", "mfa", "user"]


def password_client_with_code(user, password, sign_in) -> Client:
    """A client signed in with the password and a code (recent, with two factors)."""
    _browser, _authenticator, clock, secret, _codes = sign_in
    client = Client()
    password_step(client, user, password)
    clock.step()
    assert post(client, "mfa/challenge/", {"code": clock.code(secret)}).json() == {
        "status": "authenticated"}
    return client


def test_a_passkey_without_uv_after_a_password_is_a_second_factor(user, password, settings):
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = "preferred"
    authenticator = SoftAuthenticator(user_verification=False)
    add_passkey(password_client(user, password), authenticator)
    browser = Client()
    password_step(browser, user, password)
    assert second_factor(browser, authenticator).json()["status"] == "authenticated"
    assert auth_record(browser)["amr"] == ["hwk", "mfa", "pwd"]


def test_a_passkey_flagged_as_cloned_still_asks_for_a_second_factor(user, password,
                                                                     authenticator, passkey):
    """A counter going backwards disables the passkey, never two-step verification: with
    the account's only second factor flagged, the password alone is still not enough."""
    assert login(Client(), authenticator, counter_step=5).status_code == 200
    assert code(login(Client(), authenticator, counter_step=0)) == "passkey_cloned"

    browser = Client()
    password_step(browser, user, password)
    assert not signed_in(browser)
    # The flagged passkey is neither offered nor accepted at the stage.
    options = post(browser, "passkeys/second-factor/options/").json()
    assert options["allowCredentials"] == []
    response = post(browser, "passkeys/second-factor/",
                    {"credential": authenticator.get(options, origin=ORIGIN, counter_step=10)})
    assert code(response) == "passkey_cloned"
    assert not signed_in(browser)


def test_a_flagged_passkey_leaves_no_enrollment_open_when_mfa_is_required(settings, user,
                                                                          password, passkey):
    """Were a flagged passkey no factor, an account that must use MFA would be sent to
    enroll, and whoever has the password would bind an authenticator app of their own."""
    settings.AUTHSUITE_MFA_REQUIRED = "everyone"
    Passkey.objects.filter(pk=passkey.pk).update(flagged_at=timezone.now())
    browser = Client()
    password_step(browser, user, password)
    assert post(browser, "mfa/totp/setup/").status_code == 403
    assert not TOTPDevice.objects.filter(user=user).exists()


# Reauthentication ------------------------------------------------------------------------------

def test_reauthenticate_with_a_passkey(user, password, authenticator, passkey, monkeypatch):
    browser = Client()
    password_step(browser, user, password)
    second_factor(browser, authenticator)
    old = authrecord.now()
    monkeypatch.setattr(authrecord, "now", lambda: old + 10 ** 5)
    assert code(post(browser, "passkeys/register/options/")) == "reauthentication_required"
    options = post(browser, "passkeys/reauthenticate/options/").json()
    assert [c["id"] for c in options["allowCredentials"]] == [passkey.credential_id]
    key = browser.session.session_key
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/reauthenticate/", {"credential": assertion,
                                                          "next": "/passkeys/"})
    assert response.status_code == 200, response.json()
    assert response.json()["redirect"] == "/passkeys/"
    assert browser.session[RECORD_KEY]["auth_time"] == old + 10 ** 5
    assert browser.session.session_key != key
    assert post(browser, "passkeys/register/options/").status_code == 200
    # Recorded like a reauthentication with the password.
    event = Event.objects.get(action="accounts.reauthenticated")
    assert event.actor_id == str(user.pk)
    assert json.loads(event.data) == {"method": "passkey"}


def test_reauthenticate_with_a_passkey_and_no_next_goes_to_the_account_page(
        user, password, authenticator, passkey):
    browser = Client()
    password_step(browser, user, password)
    second_factor(browser, authenticator)
    options = post(browser, "passkeys/reauthenticate/options/").json()

    response = post(browser, "passkeys/reauthenticate/",
                    {"credential": authenticator.get(options, origin=ORIGIN), "next": ""})

    assert response.json()["redirect"] == reverse("accounts:profile")


def test_reauthenticate_refuses_another_users_passkey(user, password, authenticator, passkey):
    other = UserFactory(password=password)
    signed = password_client(other, password)
    record = signed.session[RECORD_KEY]
    options = post(signed, "passkeys/reauthenticate/options/").json()
    assert options["allowCredentials"] == []
    # The user's passkey answers the other account's reauthentication.
    response = post(signed, "passkeys/reauthenticate/",
                    {"credential": authenticator.get(options, origin=ORIGIN)})
    assert code(response) == "passkey_unknown_credential"
    assert signed.session[RECORD_KEY] == record
    passkey.refresh_from_db()
    assert passkey.sign_count == 0


def test_the_reauthenticate_page_offers_the_passkey(user, password, passkey, authenticator):
    browser = Client()
    password_step(browser, user, password)
    second_factor(browser, authenticator)
    page = browser.get(reverse("accounts:reauthenticate")).content.decode()
    assert 'data-passkey="reauth"' in page


@pytest.mark.parametrize("change", [password_reset, disabled])
def test_a_sign_in_ended_meanwhile_answers_409_and_keeps_the_passkey_unused(
        user, password, authenticator, passkey, monkeypatch, change):
    """The password reset or the account disabled while the passkey is checked: the sign-in
    cannot go on, and the passkey's use is not recorded."""
    browser = Client()
    password_step(browser, user, password)
    meanwhile(monkeypatch, change(user))

    response = second_factor(browser, authenticator)

    assert response.status_code == 409 and code(response) == "no_login_pending"
    assert not signed_in(browser)
    passkey.refresh_from_db()
    assert passkey.sign_count == 0 and passkey.last_used_at is None
    assert not Event.objects.filter(action="passkeys.used").exists()
