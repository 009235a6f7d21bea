"""The level a session vouches for decays: two factors hold as ``acr`` mfa for a day after
they were last proven (SP 800-63B-4, AAL2), then a session kept signed in vouches for one
until both are proven again. The session itself lives on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import authrecord
from tests.mfa.support import api_get, api_post

pytestmark = pytest.mark.django_db

DAY = 86400


def shown(client) -> dict:
    return api_get(client, "session/").json()["auth"]


def test_two_factors_vouch_for_mfa_for_a_day(two_factor_session, later):
    client, _secret, _codes = two_factor_session
    signed_in = shown(client)
    assert signed_in["acr"] == authrecord.ACR_MULTI_FACTOR

    later(DAY)
    assert shown(client) == signed_in

    later(1)
    # When it last authenticated and with what do not change; "mfa" goes with the level.
    assert shown(client) == {
        **signed_in, "acr": authrecord.ACR_SINGLE_FACTOR,
        "amr": [v for v in signed_in["amr"] if v != "mfa"]}
    assert "mfa" in signed_in["amr"]
    assert b"assurance level urn:authsuite:acr:1fa" in client.get(
        reverse("accounts:profile")).content


def test_proving_both_factors_again_restores_it(two_factor_session, password, clock, later):
    client, secret, _codes = two_factor_session
    later(DAY + 1)

    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200
    assert shown(client)["acr"] == authrecord.ACR_SINGLE_FACTOR
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200

    assert shown(client)["acr"] == authrecord.ACR_MULTI_FACTOR


def test_a_fresh_code_beside_a_day_old_password_is_one_factor(two_factor_session, clock,
                                                              later):
    client, secret, _codes = two_factor_session
    later(DAY + 1)
    clock.step()

    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200

    assert shown(client)["acr"] == authrecord.ACR_SINGLE_FACTOR


def test_the_age_is_a_setting(settings, two_factor_session, later):
    settings.AUTHSUITE_ACCOUNTS_MFA_ASSURANCE_MAX_AGE = 600
    client, _secret, _codes = two_factor_session
    later(600)
    assert shown(client)["acr"] == authrecord.ACR_MULTI_FACTOR

    later(1)
    assert shown(client)["acr"] == authrecord.ACR_SINGLE_FACTOR


def test_one_factor_stays_one_factor(client, user, password, later):
    assert api_post(client, "login/", {"email": user.email, "password": password}).status_code == 200
    later(40 * DAY)

    assert shown(client)["acr"] == authrecord.ACR_SINGLE_FACTOR


def admin_sends_to(client) -> str:
    """Where the admin sends a signed-in staff member it does not let in (by its login
    page, which knows the way)."""
    response = client.get("/admin/")
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 302
    return response["Location"]


@pytest.fixture
def staff_two_factor_session(settings, client, staff, password, clock):
    from tests.mfa.support import enroll, sign_in_fully

    settings.AUTHSUITE_MFA_REQUIRED = "staff"
    secret, _codes = enroll(staff)
    sign_in_fully(client, staff, password, clock, secret)
    return client, secret


def test_the_admin_asks_for_both_factors_again_after_a_day(staff_two_factor_session, password,
                                                          clock, later):
    client, secret = staff_two_factor_session
    assert client.get("/admin/").status_code == 200

    later(DAY + 1)
    assert admin_sends_to(client).startswith(reverse("accounts:reauthenticate"))

    # The password and a code, proven again, open it for another day.
    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200
    assert client.get("/admin/").status_code == 200


def test_after_the_password_alone_the_admin_asks_for_the_code(staff_two_factor_session,
                                                              password, clock, later):
    client, secret = staff_two_factor_session
    later(DAY + 1)
    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200

    assert admin_sends_to(client).startswith(reverse("mfa:challenge"))
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200
    assert client.get("/admin/").status_code == 200
