"""A sign-in in progress belongs to the password that began it.

Changing or resetting the password ends the account's sessions; a sign-in that is half-way
through its stages (begun with the old password, waiting for a required password change or
for MFA enrolment) ends with them, instead of finishing later with the old password's work.
"""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts import pipeline
from accounts.models import PasswordChangeRequired
from mfa.models import TOTPDevice
from tests.helpers import last_link, link_form, open_link
from tests.mfa.support import Clock, api_post, error_code, signed_in

pytestmark = pytest.mark.django_db

OWNER_NEW = "owner recovered with this passphrase"
OTHER_NEW = "somebody else picked this passphrase 9"


def reset_by_link(user) -> None:
    owner = Client()
    owner.post(reverse("accounts:password_reset"), {"email": user.email})
    page, url = open_link(owner, last_link(user.email))
    response = owner.post(url, link_form(page, new_password=OWNER_NEW,
                                         new_password_confirm=OWNER_NEW))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(OWNER_NEW)


def pending_state(client, rf):
    request = rf.get("/")
    request.session = client.session
    return pipeline.state_get(request)


def test_a_reset_ends_a_sign_in_waiting_for_the_required_password_change(user, password, rf):
    PasswordChangeRequired.objects.create(user=user)
    other = Client()
    response = other.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response["Location"] == reverse("accounts:password_change_required")
    assert pending_state(other, rf).user() == user

    reset_by_link(user)

    assert pending_state(other, rf).user() is None
    response = other.post(reverse("accounts:password_change_required"),
                          {"new_password": OTHER_NEW, "new_password_confirm": OTHER_NEW})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert not signed_in(other)
    user.refresh_from_db()
    assert user.check_password(OWNER_NEW)
    # The API's step answers the same way.
    response = api_post(other, "password/required/",
                        {"new_password": OTHER_NEW, "new_password_confirm": OTHER_NEW})
    assert response.status_code == 409 and error_code(response) == "no_login_pending"
    user.refresh_from_db()
    assert user.check_password(OWNER_NEW)


def test_the_required_change_itself_finishes_the_sign_in(client, user, password):
    PasswordChangeRequired.objects.create(user=user)
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    response = client.post(reverse("accounts:password_change_required"),
                           {"new_password": OWNER_NEW, "new_password_confirm": OWNER_NEW})
    assert response.status_code == 302
    assert signed_in(client)


@override_settings(AUTHSUITE_MFA_REQUIRED="everyone")
def test_a_reset_ends_a_sign_in_waiting_for_mfa_enrolment(user, password):
    other = Client()
    response = api_post(other, "login/", {"email": user.email, "password": password})
    assert response.json()["stage"] == "mfa_enroll"

    reset_by_link(user)

    response = api_post(other, "mfa/totp/setup/")
    assert response.status_code == 403 and error_code(response) == "not_authenticated"
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not signed_in(other)


@override_settings(AUTHSUITE_MFA_REQUIRED="everyone")
def test_enrolment_still_finishes_a_sign_in_nobody_interrupted(user, password, monkeypatch):
    clock = Clock(monkeypatch)
    client = Client()
    api_post(client, "login/", {"email": user.email, "password": password})
    secret = api_post(client, "mfa/totp/setup/").json()["secret"]
    response = api_post(client, "mfa/totp/activate/", {"code": pyotp.TOTP(secret).at(clock.t)})
    assert response.json()["login"] == {"status": "authenticated"}
    assert signed_in(client)


def test_a_password_change_by_the_owner_ends_a_sign_in_in_progress(client, user, password, rf):
    PasswordChangeRequired.objects.create(user=user)
    other = Client()
    other.post(reverse("accounts:login"), {"email": user.email, "password": password})
    user.set_password(OWNER_NEW)
    user.save(update_fields=["password"])
    assert pending_state(other, rf).user() is None


def test_a_sign_in_in_progress_from_before_this_check_starts_again(client, user, password):
    PasswordChangeRequired.objects.create(user=user)
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    session = client.session
    raw = dict(session[pipeline.SESSION_KEY])
    del raw["credential"]
    session[pipeline.SESSION_KEY] = raw
    session.save()
    response = client.get(reverse("accounts:password_change_required"))
    assert response["Location"] == reverse("accounts:login")


@pytest.mark.parametrize("via", ["api", "page"])
def test_signing_out_abandons_a_sign_in_in_progress(user, password, via):
    PasswordChangeRequired.objects.create(user=user)
    client = Client()
    response = api_post(client, "login/", {"email": user.email, "password": password})
    assert response.json()["stage"] == "password_change_required"
    if via == "api":
        assert api_post(client, "logout/").status_code == 204
    else:
        client.post(reverse("accounts:logout"))
    assert client.get("/api/auth/v1/session/").json()["pending_stage"] is None
    # The next person at this browser cannot finish it.
    response = api_post(client, "password/required/",
                        {"new_password": OTHER_NEW, "new_password_confirm": OTHER_NEW})
    assert response.status_code == 409 and error_code(response) == "no_login_pending"
    assert not signed_in(client)


@pytest.mark.parametrize("path", ["password/change/", "password/required/"])
def test_a_weak_new_password_is_reported_on_new_password(user, password, path):
    client = Client()
    if path == "password/change/":
        api_post(client, "login/", {"email": user.email, "password": password})
        data = {"current_password": password, "new_password": "abc"}
    else:
        PasswordChangeRequired.objects.create(user=user)
        api_post(client, "login/", {"email": user.email, "password": password})
        data = {"new_password": "abc", "new_password_confirm": "abc"}
    response = api_post(client, path, data)
    assert response.status_code == 400 and error_code(response) == "password_invalid"
    assert list(response.json()["error"]["fields"]) == ["new_password"]
