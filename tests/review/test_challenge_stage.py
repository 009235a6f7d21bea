"""The second-factor endpoints act only when the sign-in waits for the second factor.

A sign-in that skipped the challenge (a trusted browser) and now waits for another stage
(a required password change) must not have a code checked, and used up, by the challenge
endpoints, nor make them fail with a server error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import PasswordChangeRequired
from mfa import devices
from tests.mfa.support import AUTH_KEY, Clock, api_post, enroll, login, signed_in

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def waiting_for_password_change(client, user, password, clock):
    secret, codes = enroll(user)
    assert login(client, user, password)["Location"] == CHALLENGE
    clock.step()
    response = client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    assert AUTH_KEY in client.session
    client.post(reverse("accounts:logout"))
    PasswordChangeRequired.objects.create(user=user)
    response = login(client, user, password)
    assert response["Location"] == reverse("accounts:password_change_required")
    return client, secret, codes


def test_page_challenge_refuses_when_another_stage_waits(waiting_for_password_change, user):
    client, _secret, codes = waiting_for_password_change
    response = client.post(CHALLENGE, {"code": codes[0], "kind": "recovery"})
    assert response.status_code in (302, 400, 409)
    assert not signed_in(client)
    # The recovery code was not used up by a request that could not pass any stage.
    assert devices.recovery_set(user).remaining() == len(codes)


def test_api_challenge_refuses_when_another_stage_waits(waiting_for_password_change, user):
    client, _secret, codes = waiting_for_password_change
    response = api_post(client, "mfa/challenge/", {"code": codes[0]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_login_pending"
    assert not signed_in(client)
    assert devices.recovery_set(user).remaining() == len(codes)
