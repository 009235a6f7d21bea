"""Every journey of an account through the JSON API alone, as a single-page or mobile app
makes it: it reads the README's API reference and the served schema, keeps the cookies a
browser keeps, sends the CSRF token it was given in ``X-CSRFToken`` (Django's CSRF check
enforced, as in production), reads the emailed links for their token and never opens a
page of the suite.
"""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from accounts import authrecord
from accounts.models import EmailAddress, UserSession
from tests.conftest import STRONG_PASSWORD
from tests.core.spa import App, frontend, mailed_token, refused, signed_in_app
from tests.core.test_translations import catalogue, two_languages  # noqa: F401 - fixtures
from tests.factories import UserFactory
from tests.helpers import outbox_for
from tests.mfa.support import Clock
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import ORIGIN

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a fresh and long passphrase"


@pytest.fixture
def later(monkeypatch):
    """Moves the authentication record's clock: ``later(301)`` makes the sign-in no longer
    recent, so a sensitive action asks for a step-up."""
    start = authrecord.now()
    shift = [0]
    monkeypatch.setattr(authrecord, "now", lambda: start + shift[0])

    def move(seconds: int = 301) -> None:
        shift[0] += seconds

    return move


# --- CSRF across the session's rotations ------------------------------------------------


@pytest.mark.parametrize("use_sessions", [False, True], ids=["cookie", "session"])
def test_the_csrf_token_through_sign_in_step_up_and_sign_out(use_sessions, user):
    with override_settings(CSRF_USE_SESSIONS=use_sessions):
        app = App()
        assert app.session() == {"authenticated": False, "user": None, "auth": None,
                                 "pending_stage": None}
        refused(app.post("login/", {"email": user.email, "password": STRONG_PASSWORD}),
                403, "csrf_failed")

        before = app.csrf()
        response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
        assert response.json() == {"status": "authenticated"}

        # Signing in changes the token (the README: take it again after signing in).
        refused(app.post("reauthenticate/", {"password": STRONG_PASSWORD}), 403, "csrf_failed")
        after = app.csrf()
        assert after != before
        response = app.post("reauthenticate/", {"password": STRONG_PASSWORD})
        assert response.status_code == 200
        assert response.json()["amr"] == ["pwd"]

        # A step-up rotates the session key, not the token.
        response = app.post("sessions/end-others/")
        assert response.status_code == 200, response.content

        response = app.post("password/change/", {"current_password": STRONG_PASSWORD,
                                                  "new_password": STRONG_PASSWORD + "!"})
        assert response.status_code == 200, response.content
        assert app.post("sessions/end-others/").status_code == 200

        assert app.post("logout/").status_code == 204
        assert app.session()["authenticated"] is False
        # The session ended: with CSRF_USE_SESSIONS its token went with it, and the answer
        # is the code the README tells a client to take a new token on.
        response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD + "!"})
        if use_sessions:
            refused(response, 403, "csrf_failed")
        else:
            assert response.json() == {"status": "authenticated"}
            app.csrf()
            assert app.post("logout/").status_code == 204
        app.csrf()
        response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD + "!"})
        assert response.json() == {"status": "authenticated"}


# --- sign-up, verification, sign-in ------------------------------------------------------


@frontend
def test_sign_up_verify_from_the_apps_own_link_and_sign_in_remembered():
    app = App()
    app.csrf()
    response = app.post("signup/", {"email": "Ann@Example.com", "password": STRONG_PASSWORD,
                                    "name": "Ann"})
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert response.json()["stage"] == "verify_email"

    # Mandatory verification: the password alone does not sign in yet, and says why.
    response = app.post("login/", {"email": "ann@example.com", "password": STRONG_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending" and body["stage"] == "verify_email"
    assert app.session()["authenticated"] is False

    token = mailed_token("ann@example.com", "/verify/")
    refused(app.post("email/verify/", {"token": token}), 400, "password_required")
    response = app.post("email/verify/", {"token": token, "password": STRONG_PASSWORD})
    assert response.status_code == 200, response.content
    assert response.json()["detail"]
    assert EmailAddress.objects.get(email="ann@example.com").verified
    refused(app.post("email/verify/", {"token": token, "password": STRONG_PASSWORD}),
            400, "token_invalid")  # single use

    response = app.post("login/", {"email": "ANN@example.com", "password": STRONG_PASSWORD,
                                   "remember": True})
    assert response.json() == {"status": "authenticated"}
    app.csrf()
    state = app.session()
    assert state["authenticated"] is True
    assert state["user"] == {"id": state["user"]["id"], "email": "ann@example.com",
                             "name": "Ann"}
    assert state["auth"]["amr"] == ["pwd"]
    assert state["auth"]["acr"] == "urn:authsuite:acr:1fa"
    [row] = app.get("sessions/").json()
    assert row["remember"] is True and row["current"] is True


def test_sign_up_then_verify_with_the_token_of_the_suites_own_link():
    """Without front-end URLs the link opens the suite's page; the token in its path is what
    the API takes all the same."""
    app = App()
    app.csrf()
    assert app.post("signup/", {"email": "bo@example.com",
                                "password": STRONG_PASSWORD}).status_code == 201
    [message] = outbox_for("bo@example.com")
    [token] = re.findall(r"/accounts/email/verify/([A-Za-z0-9_-]+)/", message.body)[:1]
    response = app.post("email/verify/", {"token": token, "password": STRONG_PASSWORD})
    assert response.status_code == 200, response.content


def test_wrong_password_and_lockout_answers(user):
    app = App()
    app.csrf()
    error = refused(app.post("login/", {"email": user.email, "password": "wrong " * 3}),
                    400, "invalid_credentials")
    assert error["fields"] == {}
    error = refused(app.post("login/", {"email": "not an address", "password": ""}),
                    400, "invalid")
    assert set(error["fields"]) == {"email", "password"}
    error = refused(app.post("login/", {"email": user.email, "password": STRONG_PASSWORD,
                                        "remember": "yes"}), 400, "invalid")
    assert set(error["fields"]) == {"remember"}


# --- the second factor reached through the pending answer ---------------------------------


def test_totp_setup_sign_in_with_code_recovery_code_and_trusted_browser(user, monkeypatch,
                                                                         time_machine):
    clock = Clock(monkeypatch)
    time_machine.move_to(authrecord.now(), tick=False)
    app = signed_in_app(user)
    status = app.get("mfa/").json()
    assert status["totp"] is False and status["recovery_codes_remaining"] == 0

    setup = app.post("mfa/totp/setup/")
    assert setup.status_code == 200, setup.content
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert setup.json()["qr_svg"].startswith("<svg")
    refused(app.post("mfa/totp/activate/", {"code": "000000"}), 400, "mfa_code_invalid")
    activated = app.post("mfa/totp/activate/", {"code": clock.code(secret)})
    assert activated.status_code == 200, activated.content
    codes = activated.json()["recovery_codes"]
    assert len(codes) == 10
    assert app.get("mfa/").json()["totp"] is True
    assert app.get("mfa/recovery-codes/").json() == {"remaining": 10}
    assert app.post("logout/").status_code == 204

    # A sign-in now waits at the second factor, and names the ways through it.
    app.csrf()
    response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    body = response.json()
    assert body["status"] == "pending" and body["stage"] == "mfa"
    assert body["methods"] == ["totp", "recovery_code"]
    assert app.session()["pending_stage"] == "mfa"
    refused(app.get("sessions/"), 403, "not_authenticated")
    refused(app.post("mfa/challenge/", {"code": "000000"}), 400, "mfa_code_invalid")
    clock.step()
    # A wrong code makes the next one wait: the answer says how long.
    response = app.post("mfa/challenge/", {"code": clock.code(secret), "trust_browser": True})
    error = refused(response, 429, "mfa_throttled")
    assert set(error["fields"]) == {"code"}
    time_machine.shift(int(response["Retry-After"]))
    response = app.post("mfa/challenge/", {"code": clock.code(secret), "trust_browser": True})
    assert response.json() == {"status": "authenticated"}, response.content
    app.csrf()
    assert app.session()["auth"]["acr"] == "urn:authsuite:acr:mfa"
    [trusted] = app.get("mfa/trusted-browsers/").json()
    assert app.post("logout/").status_code == 204

    # The trusted browser is not asked for the code again...
    app.csrf()
    response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    assert response.json() == {"status": "authenticated"}
    app.csrf()
    assert app.delete(f"mfa/trusted-browsers/{trusted['id']}/").status_code == 204
    refused(app.delete(f"mfa/trusted-browsers/{trusted['id']}/"), 404,
            "mfa_trusted_browser_not_found")
    assert app.post("logout/").status_code == 204

    # ...until it is revoked; a recovery code passes the stage once.
    app.csrf()
    response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    assert response.json()["stage"] == "mfa"
    response = app.post("mfa/challenge/", {"code": codes[0]})
    assert response.json() == {"status": "authenticated"}, response.content
    app.csrf()
    assert app.get("mfa/recovery-codes/").json() == {"remaining": 9}


def test_remove_the_app_needs_a_step_up_with_both_factors(user, monkeypatch, later):
    clock = Clock(monkeypatch)
    app = signed_in_app(user)
    secret = app.post("mfa/totp/setup/").json()["secret"]
    codes = app.post("mfa/totp/activate/", {"code": clock.code(secret)}).json()["recovery_codes"]
    assert codes

    later()  # the sign-in is no longer recent
    error = refused(app.delete("mfa/totp/"), 403, "reauthentication_required")
    assert "reauthenticate" in error["message"]
    response = app.post("reauthenticate/", {"password": STRONG_PASSWORD})
    assert response.status_code == 200
    # The password alone is not enough now that the account has a second factor.
    error = refused(app.delete("mfa/totp/"), 403, "second_factor_required")
    assert "mfa/challenge" in error["message"]
    clock.step()
    response = app.post("mfa/challenge/", {"code": clock.code(secret)})
    assert response.status_code == 200
    assert set(response.json()) == {"auth_time", "amr", "acr"}
    assert app.delete("mfa/totp/").status_code == 204
    assert app.get("mfa/").json()["totp"] is False


def test_the_stages_staff_or_the_policy_ask_for_are_passed_through_the_api(user, monkeypatch):
    """A required authenticator app, then a new password staff asked for: each stage is
    named by the pending answer and passed through the endpoint the README gives it."""
    from accounts.models import PasswordChangeRequired

    clock = Clock(monkeypatch)
    PasswordChangeRequired.objects.create(user=user)
    app = App()
    app.csrf()
    with override_settings(AUTHSUITE_MFA_REQUIRED="everyone"):
        response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
        assert response.json()["stage"] == "mfa_enroll"
        assert app.session()["pending_stage"] == "mfa_enroll"
        refused(app.post("password/required/", {"new_password": NEW_PASSWORD}), 409,
                "no_login_pending")  # not before the stage it waits for
        setup = app.post("mfa/totp/setup/")
        assert setup.status_code == 200, setup.content
        activated = app.post("mfa/totp/activate/", {"code": clock.code(setup.json()["secret"])})
        assert activated.status_code == 200, activated.content
        assert len(activated.json()["recovery_codes"]) == 10
        assert activated.json()["login"]["stage"] == "password_change_required"
        assert app.session()["pending_stage"] == "password_change_required"
        refused(app.post("password/required/", {"new_password": "short"}), 400,
                "password_invalid")
        response = app.post("password/required/", {"new_password": NEW_PASSWORD})
        assert response.json() == {"status": "authenticated"}, response.content
    app.csrf()
    assert app.session()["auth"]["acr"] == "urn:authsuite:acr:mfa"


@frontend
def test_magic_link_sign_in_then_the_second_factor(user, monkeypatch):
    from tests.mfa.support import enroll

    clock = Clock(monkeypatch)
    secret, _codes = enroll(user)
    app = App()
    app.csrf()
    assert app.post("magic-link/", {"email": user.email}).status_code == 202
    response = app.post("magic-link/confirm/",
                        {"token": mailed_token(user.email, "/sign-in/link/")})
    body = response.json()
    assert body["status"] == "pending" and body["stage"] == "mfa", body
    clock.step()
    response = app.post("mfa/challenge/", {"code": clock.code(secret)})
    assert response.json() == {"status": "authenticated"}
    app.csrf()
    assert sorted(app.session()["auth"]["amr"]) == ["email", "mfa", "otp"]


def test_remember_me_keeps_the_cookie_past_the_browser_session(user):
    forgetful = App()
    forgetful.csrf()
    response = forgetful.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    from django.conf import settings

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"] and not cookie["expires"]  # ends with the browser
    remembered = App()
    remembered.csrf()
    response = remembered.post("login/", {"email": user.email, "password": STRONG_PASSWORD,
                                          "remember": True})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) > 86400


def test_password_change_keeps_this_session_and_ends_the_others(user):
    phone = signed_in_app(user)
    app = signed_in_app(user)
    refused(app.post("password/change/", {"current_password": "not it at all",
                                          "new_password": NEW_PASSWORD}), 400,
            "password_incorrect")
    response = app.post("password/change/", {"current_password": STRONG_PASSWORD,
                                             "new_password": NEW_PASSWORD})
    assert response.status_code == 200, response.content
    assert app.session()["authenticated"] is True
    assert phone.session()["authenticated"] is False
    # The same token goes on working: a change of password rotates the session key only.
    assert app.post("sessions/end-others/").status_code == 200


# --- magic link, password reset, reauthentication --------------------------------------


@frontend
def test_magic_link_request_and_sign_in(user):
    app = App()
    app.csrf()
    response = app.post("magic-link/", {"email": user.email})
    assert response.status_code == 202
    assert app.post("magic-link/", {"email": "nobody@example.com"}).json() == response.json()
    token = mailed_token(user.email, "/sign-in/link/")
    response = app.post("magic-link/confirm/", {"token": token})
    assert response.json() == {"status": "authenticated"}
    app.csrf()
    assert app.session()["auth"]["amr"] == ["email"]
    assert app.post("logout/").status_code == 204
    app.csrf()
    refused(app.post("magic-link/confirm/", {"token": token}), 400, "token_invalid")


@frontend
def test_password_reset_request_and_completion(user):
    other = signed_in_app(user)
    app = App()
    app.csrf()
    response = app.post("password/reset/", {"email": user.email})
    assert response.status_code == 202
    token = mailed_token(user.email, "/password/reset/")
    error = refused(app.post("password/reset/confirm/", {"token": token, "new_password": "short"}),
                    400, "password_invalid")
    assert set(error["fields"]) == {"new_password"}
    response = app.post("password/reset/confirm/", {"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 200, response.content
    assert app.session()["authenticated"] is False  # a reset does not sign in
    assert other.session()["authenticated"] is False  # and ends every session
    refused(app.post("login/", {"email": user.email, "password": STRONG_PASSWORD}),
            400, "invalid_credentials")
    assert app.post("login/", {"email": user.email,
                               "password": NEW_PASSWORD}).json()["status"] == "authenticated"


@frontend
def test_reauthenticate_by_link_for_an_account_without_a_password(later):
    user = UserFactory(password=None)
    app = App()
    app.csrf()
    app.post("magic-link/", {"email": user.email})
    assert app.post("magic-link/confirm/", {
        "token": mailed_token(user.email, "/sign-in/link/")}).json()["status"] == "authenticated"
    app.csrf()
    later()
    refused(app.post("sessions/end-others/"), 403, "reauthentication_required")
    refused(app.post("reauthenticate/", {"password": "anything at all"}), 400,
            "password_incorrect")
    assert app.post("reauthenticate/link/").status_code == 202
    token = mailed_token(user.email, "/confirm/")
    response = app.post("reauthenticate/link/confirm/", {"token": token})
    assert response.status_code == 200, response.content
    assert app.post("sessions/end-others/").status_code == 200


# --- addresses, sessions, export, closing ------------------------------------------------


@frontend
def test_addresses_add_verify_make_primary_remove(user, later):
    app = signed_in_app(user)
    [first] = app.get("emails/").json()
    response = app.post("emails/", {"email": "second@example.com"})
    assert response.status_code == 202
    refused(app.post("emails/", {"email": "SECOND@example.com"}), 400, "email_already_added")
    second = next(a for a in app.get("emails/").json() if a["email"] == "second@example.com")
    assert second["verified"] is False
    refused(app.post(f"emails/{second['id']}/primary/"), 400, "email_unverified")
    assert app.post(f"emails/{second['id']}/resend/").status_code == 202
    token = mailed_token("second@example.com", "/verify/")
    response = app.post("email/verify/", {"token": token})  # signed in as the account
    assert response.status_code == 200, response.content
    refused(app.post(f"emails/{second['id']}/resend/"), 409, "email_already_verified")

    later()
    refused(app.post(f"emails/{second['id']}/primary/"), 403, "reauthentication_required")
    assert app.post("reauthenticate/", {"password": STRONG_PASSWORD}).status_code == 200
    response = app.post(f"emails/{second['id']}/primary/")
    assert response.status_code == 200, response.content
    assert app.session()["user"]["email"] == "second@example.com"
    refused(app.delete(f"emails/{second['id']}/"), 400, "email_primary")
    assert app.delete(f"emails/{first['id']}/").status_code == 204
    refused(app.delete(f"emails/{first['id']}/"), 404, "email_not_found")
    assert [a["email"] for a in app.get("emails/").json()] == ["second@example.com"]


def test_sessions_list_and_end(user, later):
    phone = signed_in_app(user)
    laptop = signed_in_app(user)
    tablet = signed_in_app(user)
    rows = laptop.get("sessions/").json()
    assert len(rows) == 3
    [mine] = [r for r in rows if r["current"]]
    others = [r for r in rows if not r["current"]]

    later()
    refused(laptop.delete(f"sessions/{others[0]['id']}/"), 403, "reauthentication_required")
    assert laptop.post("reauthenticate/", {"password": STRONG_PASSWORD}).status_code == 200
    assert laptop.delete(f"sessions/{others[0]['id']}/").status_code == 204
    refused(laptop.delete(f"sessions/{others[0]['id']}/"), 404, "session_not_found")
    assert len(laptop.get("sessions/").json()) == 2
    assert laptop.post("sessions/end-others/").json()["detail"]
    assert not phone.session()["authenticated"] and not tablet.session()["authenticated"]
    assert laptop.delete(f"sessions/{mine['id']}/").status_code == 204
    assert laptop.session()["authenticated"] is False
    refused(laptop.get("sessions/"), 403, "not_authenticated")
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 0


def test_sign_out_everywhere(user):
    phone = signed_in_app(user)
    laptop = signed_in_app(user)
    assert laptop.post("sessions/end-all/").status_code == 204
    assert not phone.session()["authenticated"] and not laptop.session()["authenticated"]


def test_export_then_close_the_account(user, later):
    app = signed_in_app(user)
    export = app.get("account/export/")
    assert export.status_code == 200
    assert user.email in export.content.decode()
    later()
    refused(app.post("account/close/"), 403, "reauthentication_required")
    assert app.post("reauthenticate/", {"password": STRONG_PASSWORD}).status_code == 200
    assert app.post("account/close/").status_code == 204
    assert app.session()["authenticated"] is False
    app.csrf()
    refused(app.post("login/", {"email": user.email, "password": STRONG_PASSWORD}),
            400, "invalid_credentials")


# --- passkeys ------------------------------------------------------------------------------


def test_passkey_registration_sign_in_second_factor_step_up_and_removal(user, later):
    authenticator = SoftAuthenticator()
    app = signed_in_app(user)
    options = app.post("passkeys/register/options/")
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json(), origin=ORIGIN)
    response = app.post("passkeys/register/", {"credential": credential, "name": "Phone"})
    assert response.status_code == 201, response.content
    passkey = response.json()
    assert passkey["name"] == "Phone"
    assert app.patch(f"passkeys/{passkey['id']}/", {"name": "My phone"}).json()["name"] == \
        "My phone"
    assert app.post("logout/").status_code == 204

    # Usernameless sign-in with user verification: multi-factor, phishing-resistant.
    app.csrf()
    options = app.post("passkeys/login/options/").json()
    response = app.post("passkeys/login/", {"credential": authenticator.get(options,
                                                                            origin=ORIGIN)})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authenticated"
    app.csrf()
    assert app.session()["auth"]["acr"] == "urn:authsuite:acr:phr"
    assert app.post("logout/").status_code == 204

    # The password, then the passkey as the second factor.
    app.csrf()
    response = app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    assert response.json()["stage"] == "mfa"
    assert "passkey" in response.json()["methods"]
    options = app.post("passkeys/second-factor/options/").json()
    response = app.post("passkeys/second-factor/",
                        {"credential": authenticator.get(options, origin=ORIGIN)})
    assert response.json()["status"] == "authenticated", response.content
    app.csrf()

    # Step-up with the passkey before removing it.
    later()
    refused(app.delete(f"passkeys/{passkey['id']}/"), 403, "reauthentication_required")
    options = app.post("passkeys/reauthenticate/options/").json()
    response = app.post("passkeys/reauthenticate/",
                        {"credential": authenticator.get(options, origin=ORIGIN)})
    assert response.status_code == 200, response.content
    assert app.delete(f"passkeys/{passkey['id']}/").status_code == 204
    assert app.get("passkeys/").json() == []
    refused(app.delete(f"passkeys/{passkey['id']}/"), 404, "passkey_not_found")


# --- what a client tells apart by code -------------------------------------------------------


def test_not_signed_in_step_up_forbidden_and_rate_limited_are_told_apart(user, later):
    visitor = App()
    visitor.csrf()
    refused(visitor.get("emails/"), 403, "not_authenticated")
    refused(visitor.post("account/close/"), 403, "not_authenticated")
    refused(visitor.post("sessions/end-others/"), 403, "not_authenticated")

    app = signed_in_app(user)
    later()
    refused(app.post("account/close/"), 403, "reauthentication_required")

    stranger = App()
    refused(stranger.post("logout/"), 403, "csrf_failed")

    for _ in range(30):
        response = visitor.post("login/", {"email": user.email, "password": "wrong" * 4})
        if response.status_code == 429:
            break
    error = refused(response, 429, response.json()["error"]["code"])
    assert error["code"] in ("rate_limited", "account_locked")
    assert int(response["Retry-After"]) >= 0


# --- the same codes in every language; the messages in the client's ------------------------


def _messages(body) -> list[str]:
    """The texts of an answer meant for a person: ``message``, ``detail``, field errors."""
    found = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("message", "detail") and isinstance(value, str):
                found.append(value)
            elif key == "fields":
                found.extend(m for messages in value.values() for m in messages)
            else:
                found.extend(_messages(value))
    elif isinstance(body, list):
        for value in body:
            found.extend(_messages(value))
    return found


def _answers_in(language: str, user, enrolled, move) -> list:
    """The answers a front end gets along its journeys, asking in ``language``."""
    app = App(HTTP_ACCEPT_LANGUAGE=language)
    answers = [app.post("logout/")]  # no CSRF token yet
    app.csrf()
    answers += [
        app.post("login/", {"email": user.email, "password": "not the password"}),
        app.post("magic-link/", {"email": user.email}),
        app.post("password/reset/", {"email": user.email}),
        app.post("magic-link/confirm/", {"token": "unknown"}),
        app.post("password/reset/confirm/", {"token": "unknown", "new_password": NEW_PASSWORD}),
        app.post("email/verify/", {"token": "unknown"}),
        app.post("signup/", {"email": f"new-{language}@example.com",
                             "password": STRONG_PASSWORD}),
        app.post("password/required/", {"new_password": NEW_PASSWORD}),
        app.post("login/", {"email": enrolled.email, "password": STRONG_PASSWORD}),  # pending
    ]
    app = App(HTTP_ACCEPT_LANGUAGE=language)
    app.csrf()
    app.post("login/", {"email": user.email, "password": STRONG_PASSWORD})
    app.csrf()
    answers += [
        app.post("emails/", {"email": f"more-{language}@example.com"}),
        app.post("emails/999999/resend/"),
        app.delete("sessions/999999/"),
        app.delete("mfa/trusted-browsers/999999/"),
        app.patch("passkeys/999999/", {"name": "Phone"}),
        app.post("sessions/end-others/"),
        app.post("password/change/", {"current_password": STRONG_PASSWORD,
                                      "new_password": NEW_PASSWORD}),
    ]
    move()
    answers.append(app.post("account/close/"))
    from tests.mfa.support import enroll

    enroll(user)
    app.post("reauthenticate/", {"password": NEW_PASSWORD})
    answers.append(app.post("account/close/"))  # the second factor is due too
    return answers


@pytest.mark.usefixtures("two_languages")
def test_api_messages_are_in_the_clients_language_and_codes_in_none(user, later):
    from django.core.cache import caches
    from django.utils import translation

    from tests.core.test_translations import LANGUAGE, OPEN
    from tests.mfa.support import enroll

    other = UserFactory(password=STRONG_PASSWORD)
    enrolled, enrolled_other = (UserFactory(password=STRONG_PASSWORD) for _ in range(2))
    enroll(enrolled)
    enroll(enrolled_other)
    english = _answers_in("en", user, enrolled, later)
    for alias in caches:
        caches[alias].clear()  # the rate limits' counts
    translated = _answers_in(LANGUAGE, other, enrolled_other, later)

    def outcome(response):
        body = response.json() if response.content else {}
        return response.status_code, body.get("error", {}).get("code"), body.get("status")

    assert [outcome(r) for r in translated] == [outcome(r) for r in english]
    untranslated = []
    for response in translated:
        for message in _messages(response.json() if response.content else {}):
            with translation.override("de"):
                djangos_own = translation.gettext(message) != message  # DRF's, Django's
            if OPEN not in message and not djangos_own:
                untranslated.append((response.request["PATH_INFO"], message))
    assert untranslated == [], "\n".join(map(str, untranslated))
    # The mail a request of the API queued is in that request's language too.
    assert outbox_for(other.email)
    assert all(OPEN in m.subject for m in outbox_for(other.email))
    assert not any(OPEN in m.subject for m in outbox_for(user.email))
