"""AUTHSUITE_MFA_REQUIRED and AUTHSUITE_MFA_GRACE_PERIOD: who must enroll, and when a user who
must but has no factor gets no session until enrolled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import authrecord
from mfa import policy
from mfa.models import EnforcementState, TOTPDevice
from tests.helpers import last_link
from tests.mfa.support import (
    AUTH_KEY,
    RECORD_KEY,
    api_get,
    api_post,
    begin_setup,
    enroll,
    error_code,
    login,
    page_codes,
    page_secret,
    signed_in,
)

pytestmark = pytest.mark.django_db

ENROLL = reverse("mfa:enroll")


def corporate(user) -> bool:
    """A project's own rule (AUTHSUITE_MFA_REQUIRED = "tests.mfa.test_enforcement.corporate")."""
    return user.email.endswith("@corp.example")


@pytest.fixture
def everyone(settings):
    settings.AUTHSUITE_MFA_REQUIRED = "everyone"


# --- who must -------------------------------------------------------------------------------


def test_nobody_by_default(client, user, password):
    assert not policy.is_required(user)
    assert login(client, user, password)["Location"] == reverse("accounts:profile")


@pytest.mark.parametrize(("rule", "staff_needs", "user_needs"), [
    ("nobody", False, False), ("staff", True, False), ("everyone", True, True),
])
def test_the_rules(settings, user, staff, rule, staff_needs, user_needs):
    settings.AUTHSUITE_MFA_REQUIRED = rule
    assert policy.is_required(staff) is staff_needs
    assert policy.is_required(user) is user_needs


def test_a_callable_rule(settings, password):
    from tests.factories import UserFactory

    settings.AUTHSUITE_MFA_REQUIRED = "tests.mfa.test_enforcement.corporate"
    assert policy.is_required(UserFactory(email="ann@corp.example", password=password))
    assert not policy.is_required(UserFactory(email="bob@home.example", password=password))


def test_staff_rule_sends_staff_to_enroll_and_lets_others_in(settings, client, user, staff,
                                                             password):
    settings.AUTHSUITE_MFA_REQUIRED = "staff"
    assert login(client, user, password)["Location"] == reverse("accounts:profile")
    client.post(reverse("accounts:logout"))
    assert login(client, staff, password)["Location"] == ENROLL
    assert not signed_in(client)


# --- enrollment as a sign-in stage ----------------------------------------------------------


def test_no_session_until_enrolled(everyone, client, user, password, clock):
    response = login(client, user, password)
    assert response["Location"] == ENROLL
    assert AUTH_KEY not in client.session and not signed_in(client)
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert "Start setup" in client.get(ENROLL).content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()  # opening the page began nothing
    page = begin_setup(client, ENROLL)
    assert page.status_code == 200
    assert "Your account requires a second step at sign-in." in page.content.decode()
    assert "<svg" in page.content.decode()
    secret = page_secret(page.content)
    # A wrong code: still nothing.
    response = client.post(ENROLL, {"code": clock.code(secret, 4)})
    assert response.status_code == 200 and "That code is not valid." in response.content.decode()
    assert not signed_in(client)
    # The right one: enrolled, shown the recovery codes, signed in with two factors.
    response = client.post(ENROLL, {"code": clock.code(secret)})
    assert response.status_code == 200
    assert len(page_codes(response.content)) == 10
    assert 'href="/accounts/"' in response.content.decode()
    assert signed_in(client)
    record = client.session[RECORD_KEY]
    assert record["amr"] == ["mfa", "otp", "pwd"] and record["acr"] == authrecord.ACR_MULTI_FACTOR
    assert TOTPDevice.objects.get(user=user).confirmed


def test_the_next_sign_in_asks_for_the_code(everyone, client, user, password, clock):
    login(client, user, password)
    secret = page_secret(begin_setup(client, ENROLL).content)
    client.post(ENROLL, {"code": clock.code(secret)})
    client.post(reverse("accounts:logout"))
    assert login(client, user, password)["Location"] == reverse("mfa:challenge")


def test_a_magic_link_also_leads_to_enrollment(everyone, client, user):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    assert client.post(last_link(user.email))["Location"] == ENROLL
    assert not signed_in(client)


def test_the_enroll_page_without_a_pending_sign_in(everyone, client):
    assert client.get(ENROLL)["Location"] == reverse("accounts:login")


def test_the_enroll_page_when_enrollment_is_not_due(client, user, password):
    login(client, user, password)  # nothing required: signed in at once
    client.post(reverse("accounts:logout"))
    assert client.get(ENROLL)["Location"] == reverse("accounts:login")


def test_enrolled_users_get_the_challenge_not_enrollment(everyone, client, user, password):
    enroll(user)
    assert login(client, user, password)["Location"] == reverse("mfa:challenge")


def test_enrollment_over_the_api(everyone, client, user, password, clock):
    response = api_post(client, "login/", {"email": user.email, "password": password})
    assert response.json()["stage"] == "mfa_enroll"
    assert response.json()["url"] == ENROLL
    setup = api_post(client, "mfa/totp/setup/").json()
    assert set(setup) == {"otpauth_uri", "secret", "qr_svg"}
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    assert setup["qr_svg"].startswith("<svg")
    assert not signed_in(client)
    response = api_post(client, "mfa/totp/activate/", {"code": clock.code(setup["secret"], 3)})
    assert error_code(response) == "mfa_code_invalid"
    assert not signed_in(client)
    response = api_post(client, "mfa/totp/activate/", {"code": clock.code(setup["secret"])})
    body = response.json()
    assert len(body["recovery_codes"]) == 10
    assert body["login"] == {"status": "authenticated"}
    assert signed_in(client)
    assert api_get(client, "session/").json()["auth"]["acr"] == authrecord.ACR_MULTI_FACTOR


# --- grace period ---------------------------------------------------------------------------


@pytest.fixture
def grace(everyone, settings):
    settings.AUTHSUITE_MFA_GRACE_PERIOD = 3600


def test_within_the_grace_period_the_user_gets_in(grace, client, user, password, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    assert login(client, user, password)["Location"] == reverse("accounts:profile")
    state = EnforcementState.objects.get(user=user)
    ends = state.required_since + timedelta(seconds=3600)
    assert policy.grace_ends(user) == ends
    page = client.get(reverse("mfa:index")).content.decode()
    assert f"Set it up before {ends:%Y-%m-%d %H:%M}" in page
    status = api_get(client, "mfa/").json()
    assert status["required"] is True and status["grace_ends"] is not None


def test_the_grace_period_counts_from_the_first_sign_in(grace, client, user, password,
                                                        time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    login(client, user, password)
    client.post(reverse("accounts:logout"))
    time_machine.shift(timedelta(seconds=3599))
    assert login(client, user, password)["Location"] == reverse("accounts:profile")
    client.post(reverse("accounts:logout"))
    time_machine.shift(timedelta(seconds=2))
    assert login(client, user, password)["Location"] == ENROLL
    assert not signed_in(client)
    assert policy.grace_ends(user) is None or policy.enrollment_due(user)


def test_without_a_grace_period_enrollment_is_at_once(everyone, client, user, password):
    assert login(client, user, password)["Location"] == ENROLL
    assert policy.grace_ends(user) is None


def test_an_enrolled_user_has_no_grace_period_to_show(grace, user):
    enroll(user)
    assert policy.grace_ends(user) is None
    assert not policy.enrollment_due(user)


def test_users_in_their_grace_period_may_enroll_from_the_overview(grace, client, user, password,
                                                                 clock):
    login(client, user, password)
    secret = page_secret(begin_setup(client).content)
    client.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)})
    assert policy.grace_ends(user) is None
    assert TOTPDevice.objects.get(user=user).confirmed


def test_a_new_account_must_enroll_before_its_first_session(everyone, client, password):
    response = client.post(reverse("accounts:signup"), {
        "name": "Ann", "email": "ann@example.com", "password": password})
    assert response.status_code == 302
    assert response["Location"] in (ENROLL, reverse("accounts:verification_sent"))
    assert not signed_in(client)
    assert AUTH_KEY not in client.session


# --- enrollment in a session signed in as someone else --------------------------------------


@pytest.fixture
def another_account_enrolling(settings, client, user, staff, password):
    """``client`` is signed in as ``user`` (one factor, the password); in the same browser,
    ``staff`` (who must have MFA and has none) signs in and reaches the enrollment stage."""
    settings.AUTHSUITE_MFA_REQUIRED = "staff"
    assert login(client, user, password)["Location"] == reverse("accounts:profile")
    assert login(client, staff, password)["Location"] == ENROLL
    assert client.session[AUTH_KEY] == str(user.pk)  # the earlier sign-in, until this completes
    return client


def test_enrolling_another_account_never_steps_up_the_signed_in_one(another_account_enrolling,
                                                                   user, staff, clock):
    """The code proves the pending account's new app, not a second factor of the account
    the session is signed in as: while the sign-in waits for a later stage, that session
    keeps the record it had."""
    from accounts.models import PasswordChangeRequired

    client = another_account_enrolling
    PasswordChangeRequired.objects.create(user=staff)
    before = client.session[RECORD_KEY]
    secret = page_secret(begin_setup(client, ENROLL).content)

    response = client.post(ENROLL, {"code": clock.code(secret)})

    assert response.status_code == 200  # the new recovery codes, then the password change
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert client.session[AUTH_KEY] == str(user.pk)
    # Unchanged: no "otp", no "mfa", no fresher auth_time for the signed-in account.
    assert client.session[RECORD_KEY] == before


def test_enrolling_another_account_signs_that_account_in(another_account_enrolling, staff,
                                                         clock):
    client = another_account_enrolling
    secret = page_secret(begin_setup(client, ENROLL).content)

    assert client.post(ENROLL, {"code": clock.code(secret)}).status_code == 200

    assert client.session[AUTH_KEY] == str(staff.pk)
    assert client.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
