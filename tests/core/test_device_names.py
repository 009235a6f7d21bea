"""Device names made from the User-Agent header: readable, and short whatever the client
sends (the header is the client's to choose; the name goes into 200-character columns)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import UserSession
from authsuite.useragent import device_name
from mfa.models import TrustedBrowser
from tests.mfa.support import Clock, api_post, enroll

LONG_VERSIONS = {
    "curl": "curl/" + "9" * 400,
    "chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/" + "1" * 400 + ".0 Safari/537.36",
}


@pytest.mark.parametrize(("agent", "name"), [
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Firefox 128 on Ubuntu"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on Windows 10"),
    ("", "Unknown device"),
    ("curl/" + "9" * 400, "curl " + "9" * 10),
])
def test_a_readable_name_of_bounded_length(agent, name):
    assert device_name(agent) == name


@pytest.mark.django_db
@pytest.mark.parametrize("agent", LONG_VERSIONS.values(), ids=LONG_VERSIONS.keys())
def test_a_sign_in_with_a_long_user_agent_is_tracked(user, password, agent):
    client = Client(HTTP_USER_AGENT=agent)

    response = api_post(client, "login/", {"email": user.email, "password": password})

    assert response.status_code == 200
    device = UserSession.objects.get(user=user).device
    assert device and len(device) <= UserSession._meta.get_field("device").max_length


@pytest.mark.django_db
def test_a_browser_with_a_long_user_agent_is_trusted(user, password, monkeypatch):
    clock = Clock(monkeypatch)
    secret, _codes = enroll(user)
    client = Client(HTTP_USER_AGENT=LONG_VERSIONS["curl"])
    assert api_post(client, "login/", {"email": user.email,
                                       "password": password}).json()["status"] == "pending"

    response = api_post(client, "mfa/challenge/", {"code": clock.code(secret),
                                                  "trust_browser": True})

    assert response.status_code == 200
    assert len(TrustedBrowser.objects.get(user=user).device) <= 200
