"""Enroll TOTP, then every sign-in needs the code; codes come from pyotp, not our code."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.mfa.support import Clock

pytestmark = pytest.mark.django_db


def _enroll(client, user, password, monkeypatch):
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    page = client.post(reverse("mfa:totp_setup"), {"action": "begin"}, follow=True).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    # The app's code for the time the suite holds: a real clock could pass a step's end
    # between the code and its check, and a code works in its own step only.
    response = client.post(reverse("mfa:totp_setup"), {"code": Clock(monkeypatch).code(secret)})
    codes = re.findall(r"<code>([0-9a-z]{4}(?:-[0-9a-z]{4}){5})</code>",
                       response.content.decode())
    assert len(codes) == 10
    return secret, codes


def test_password_then_totp(client, user, password, monkeypatch):
    secret, codes = _enroll(client, user, password, monkeypatch)
    client.post(reverse("accounts:logout"))
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response["Location"] == reverse("mfa:challenge")
    assert "_auth_user_id" not in client.session
    # A code already used at enrollment cannot be replayed; wait for a fresh step instead.
    response = client.post(reverse("mfa:challenge"), {"code": codes[0]})
    assert response.status_code == 302
    assert client.session["_authsuite_auth"]["amr"] == ["mfa", "otp", "pwd"]


def test_magic_link_cannot_bypass_mfa(client, user, password, monkeypatch):
    from tests.helpers import last_link

    _enroll(client, user, password, monkeypatch)
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    response = client.post(last_link(user.email))
    assert response["Location"] == reverse("mfa:challenge")
    assert "_auth_user_id" not in client.session
