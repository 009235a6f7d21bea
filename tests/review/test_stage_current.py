"""A stage view acts on the stage the sign-in waits for (LoginState.waiting), not on a
stage recomputed from the request.

Whether the second factor is needed depends on the trusted-browser cookie of each request,
so a client that adds or drops the cookie half-way could make the stage views disagree with
the pipeline: one of them changed the password and then failed with a server error.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import PasswordChangeRequired
from tests.mfa.support import AUTH_KEY, Clock, api_post, enroll, login, signed_in

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")
COOKIE = "authsuite_mfa_trust"
NEW_PASSWORD = "a completely new passphrase 42"


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def test_password_stage_waits_for_the_challenge_whatever_the_cookie(client, user, password,
                                                                     clock):
    secret, _codes = enroll(user)
    assert login(client, user, password)["Location"] == CHALLENGE
    clock.step()
    client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    assert AUTH_KEY in client.session
    trust_cookie = client.cookies[COOKIE].value
    client.post(reverse("accounts:logout"))

    PasswordChangeRequired.objects.create(user=user)
    del client.cookies[COOKIE]
    assert login(client, user, password)["Location"] == CHALLENGE  # waits for the code
    client.cookies[COOKIE] = trust_cookie

    response = api_post(client, "password/required/", {"new_password": NEW_PASSWORD})
    assert response.status_code in (400, 409)
    page = client.post(reverse("accounts:password_change_required"),
                       {"new_password": NEW_PASSWORD})
    assert page["Location"] == reverse("accounts:login")
    user.refresh_from_db()
    assert user.check_password(password)
    assert not signed_in(client)
