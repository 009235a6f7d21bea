"""The login pipeline: stages contributed through the registry, session key rotation, the
authentication record, the required-password-change stage and the pending-login timeout."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.urls import reverse

from accounts import authrecord, pipeline
from accounts.models import PasswordChangeRequired
from tests.accounts.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_get,
    api_login,
    api_post,
    cookie_session_key,
    error_code,
    freeze,
    html_login,
    is_signed_in,
    mailed,
    plant_session,
)
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a brand new long passphrase"


class HoldStage(pipeline.Stage):
    """Needed by everyone: the sign-in waits until /test-stage/ is visited."""

    key = "test_stage"
    order = 50
    url_name = "test_stage"
    description = "Pass the test stage."

    def is_needed(self, request, user, state, facts) -> bool:
        return True


@pytest.fixture
def hold_stage():
    stage = HoldStage()
    pipeline.stages.register(stage)
    yield stage
    pipeline.stages.unregister(stage.key)


# --- custom stage ---------------------------------------------------------------------------

@pytest.mark.urls("tests.accounts.stage_urls")
def test_html_session_is_not_authenticated_until_the_stage_is_passed(client, user, password,
                                                                     hold_stage):
    response = html_login(client, user.email, password, next="/accounts/email/")

    assert response.status_code == 302
    assert response["Location"] == "/test-stage/"
    assert AUTH_KEY not in client.session
    assert RECORD_KEY not in client.session
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert api_get(client, "session/").json()["pending_stage"] == "test_stage"

    result = client.get("/test-stage/").json()

    assert result == {"status": "authenticated"}
    assert client.session[AUTH_KEY] == str(user.pk)
    assert client.get(reverse("accounts:profile")).status_code == 200
    # The stage's factor joined the record: two kinds of factor make "mfa".
    assert client.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert client.session[RECORD_KEY]["acr"] == authrecord.ACR_MULTI_FACTOR


@pytest.mark.urls("tests.accounts.stage_urls")
def test_api_reports_the_pending_stage(client, user, password, hold_stage):
    response = api_login(client, user.email, password)

    assert response.json() == {
        "status": "pending", "stage": "test_stage", "url": "/test-stage/",
        "message": "Pass the test stage.",
    }
    state = api_get(client, "session/").json()
    assert state["authenticated"] is False
    assert state["pending_stage"] == "test_stage"
    assert api_get(client, "sessions/").status_code == 403

    client.get("/test-stage/")
    assert is_signed_in(client)


@pytest.mark.urls("tests.accounts.stage_urls")
def test_magic_link_goes_through_the_stages_too(client, user, hold_stage):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    from tests.helpers import last_link

    response = client.post(last_link(user.email))
    assert response["Location"] == "/test-stage/"
    assert not is_signed_in(client)


@pytest.mark.urls("tests.accounts.stage_urls")
def test_passing_a_stage_without_a_pending_login_does_nothing(client, hold_stage):
    response = client.get("/test-stage/")
    assert response.status_code == 409
    assert not is_signed_in(client)


def test_unregistered_stage_no_longer_applies(client, user, password):
    stage = HoldStage()
    pipeline.stages.register(stage)
    pipeline.stages.unregister(stage.key)
    assert pipeline.stages.get("test_stage") is None
    assert html_login(client, user.email, password)["Location"] == "/accounts/"
    assert client.session[AUTH_KEY] == str(user.pk)


# --- session key rotation -------------------------------------------------------------------

def test_session_key_rotates_at_login(client, user, password):
    planted = plant_session(client)

    html_login(client, user.email, password)

    assert cookie_session_key(client) != planted
    assert not Session.objects.filter(session_key=planted).exists()
    # Whoever knew the planted key holds nothing.
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert not is_signed_in(attacker)


def test_session_key_rotates_at_api_login(client, user, password):
    planted = plant_session(client)
    api_login(client, user.email, password)
    assert cookie_session_key(client) != planted


@pytest.mark.urls("tests.accounts.stage_urls")
def test_session_key_rotates_after_first_factor_and_at_stage_passed(client, user, password,
                                                                    hold_stage):
    planted = plant_session(client)

    html_login(client, user.email, password)
    pending = cookie_session_key(client)
    assert pending != planted

    client.get("/test-stage/")
    signed_in = cookie_session_key(client)
    assert signed_in != pending
    assert not Session.objects.filter(session_key=pending).exists()
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = pending
    assert not is_signed_in(attacker)


# --- authentication record ------------------------------------------------------------------

def test_authentication_record_is_stored_and_exposed(client, user, password, time_machine):
    start = freeze(time_machine)
    html_login(client, user.email, password)

    at = int(start.timestamp())
    record = {"auth_time": at, "amr": ["pwd"], "acr": authrecord.ACR_SINGLE_FACTOR}
    assert client.session[RECORD_KEY] == {**record, "proven": {"pwd": at}}
    assert api_get(client, "session/").json()["auth"] == record
    assert b"pwd" in client.get(reverse("accounts:profile")).content


# --- required password change ---------------------------------------------------------------

def require_new_password(staff, user) -> None:
    admin = Client()
    admin.force_login(staff)
    response = admin.post(user_admin_url("changelist"), {
        "action": "require_password_change", "_selected_action": [user.pk],
    })
    assert response.status_code == 302
    assert PasswordChangeRequired.objects.filter(user=user).exists()


def test_required_password_change_html(client, user, password, staff):
    require_new_password(staff, user)

    response = html_login(client, user.email, password, next="/accounts/email/")
    assert response["Location"] == reverse("accounts:password_change_required")
    assert AUTH_KEY not in client.session
    assert client.get(reverse("accounts:password_change_required")).status_code == 200

    same = client.post(reverse("accounts:password_change_required"),
                       {"new_password": password, "new_password_confirm": password})
    assert b"different from the old one" in same.content
    weak = client.post(reverse("accounts:password_change_required"),
                       {"new_password": "short", "new_password_confirm": "short"})
    assert b"Use at least 15 characters." in weak.content
    assert AUTH_KEY not in client.session

    done = client.post(reverse("accounts:password_change_required"),
                       {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})

    assert done.status_code == 302
    assert done["Location"] == "/accounts/email/"
    assert client.session[AUTH_KEY] == str(user.pk)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not PasswordChangeRequired.objects.filter(user=user).exists()
    assert mailed(user.email, "password was changed") == 1
    # Next time no stage.
    assert html_login(Client(), user.email, NEW_PASSWORD)["Location"] == "/accounts/"


def test_required_password_change_api(client, user, password, staff):
    require_new_password(staff, user)

    response = api_login(client, user.email, password)
    assert response.json()["status"] == "pending"
    assert response.json()["stage"] == "password_change_required"
    assert not is_signed_in(client)

    weak = api_post(client, "password/required/", {"new_password": "short"})
    assert weak.status_code == 400
    assert error_code(weak) == "password_invalid"

    done = api_post(client, "password/required/", {"new_password": NEW_PASSWORD})
    assert done.json() == {"status": "authenticated"}
    assert is_signed_in(client)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_required_password_api_when_the_sign_in_ends_meanwhile(client, user, password, staff,
                                                              time_machine):
    """The sign-in times out (or the account is disabled) while the new password is being
    stored: the password is changed, the sign-in is not finished, and the API says so as
    the page does (back to sign-in), not with a server error."""
    from accounts import signals

    freeze(time_machine)
    require_new_password(staff, user)
    assert api_login(client, user.email, password).json()["stage"] == "password_change_required"

    def late(**kwargs):
        time_machine.shift(pipeline.app_settings.LOGIN_TIMEOUT + 1)

    signals.password_changed.connect(late, dispatch_uid="test-late")
    try:
        response = api_post(client, "password/required/", {"new_password": NEW_PASSWORD})
    finally:
        signals.password_changed.disconnect(dispatch_uid="test-late")

    assert response.status_code == 409
    assert error_code(response) == "no_login_pending"
    assert not is_signed_in(client)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_required_password_page_needs_a_pending_login(client, user):
    assert client.get(reverse("accounts:password_change_required"))["Location"] == "/accounts/login/"
    response = api_post(client, "password/required/", {"new_password": NEW_PASSWORD})
    assert response.status_code == 409
    assert error_code(response) == "no_login_pending"


@pytest.mark.urls("tests.accounts.stage_urls")
def test_required_password_page_cannot_be_used_while_another_stage_is_pending(
    client, user, password, hold_stage
):
    """A first factor alone must not be enough to set a new password (say, while MFA waits)."""
    html_login(client, user.email, password)

    client.post(reverse("accounts:password_change_required"),
                {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    api = api_post(client, "password/required/", {"new_password": NEW_PASSWORD})

    assert api.status_code == 409
    user.refresh_from_db()
    assert user.check_password(password)
    assert not is_signed_in(client)


# --- pending login timeout ------------------------------------------------------------------

@pytest.mark.urls("tests.accounts.stage_urls")
def test_pending_login_times_out(client, user, password, hold_stage, time_machine):
    freeze(time_machine)
    html_login(client, user.email, password)

    time_machine.shift(15 * 60 + 1)

    assert api_get(client, "session/").json()["pending_stage"] is None
    assert client.get("/test-stage/").status_code == 409
    assert not is_signed_in(client)


@pytest.mark.urls("tests.accounts.stage_urls")
def test_pending_login_survives_until_the_timeout(client, user, password, hold_stage,
                                                   time_machine):
    freeze(time_machine)
    api_login(client, user.email, password)
    time_machine.shift(15 * 60 - 1)
    assert client.get("/test-stage/").json() == {"status": "authenticated"}


@override_settings(AUTHSUITE_ACCOUNTS_LOGIN_TIMEOUT=60)
def test_login_timeout_is_configurable(client, user, password, staff, time_machine):
    require_new_password(staff, user)
    freeze(time_machine)
    html_login(client, user.email, password)

    time_machine.shift(61)

    response = client.post(reverse("accounts:password_change_required"),
                           {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert response["Location"] == "/accounts/login/"
    user.refresh_from_db()
    assert user.check_password(password)
