"""Device names made from the User-Agent header: readable, and short whatever the client
sends (the header is the client's to choose; the name goes into 200-character columns), and
shown in mails and pages as plain words: nothing a mail program would make a link of, no
markup, no control or direction-changing characters."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import UserSession
from authsuite.useragent import NAME_MAX, device_name
from mfa.models import TrustedBrowser
from tests.helpers import outbox_for
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
    ("curl/" + "9" * 400, "curl"),  # ten digits and more read as a phone number
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Mobile Safari 17 on iOS 17"),
    ("Outlook-iOS/709.2226530.prod.iphone (3.24.1)", "Outlook-iOS 3 on iOS"),
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


SHOWN = re.compile(r"[A-Za-z0-9 -]+")
PHONE_LIKE = re.compile(r"[0-9](?:[ -]*[0-9]){6,}")
HOSTILE = {
    "url": "Mozilla/5.0 (compatible; https://evil.example/reset spider/1.0)",
    "domain": "evil.example.com crawler/1.0",
    "spelled_out_domain": "www[.]evil[.]com spider",
    "html": '<a href="https://evil.example">Support</a> spider/1.0',
    "rtl_override": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 \u202emoc.live Spider/2",
    "zero_width": "a\u200bb spider",
    "controls": "Bad\x00\x1b[31m\r\nspider/1",
    "full_width": "\uff25\uff56\uff49\uff4c\uff0e\uff43\uff4f\uff4d crawler",
    "homoglyphs": "ev\u0456l.\u0441\u043em spider",
    "phone": "+1-555-0100-199 crawler/1",
    "punctuation": "ab^cd`ef\\gh_ij spider",
    "long": "x" * 600 + " spider",
    "long_version": "curl/" + "9" * 400,
}


@pytest.mark.parametrize("agent", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_user_agent_gives_plain_words(agent):
    name = device_name(agent)

    assert SHOWN.fullmatch(name), name
    assert len(name) <= NAME_MAX
    assert not PHONE_LIKE.search(name), name


@pytest.mark.django_db
@pytest.mark.parametrize("agent", [HOSTILE["phone"], HOSTILE["punctuation"],
                                   HOSTILE["rtl_override"]])
def test_an_alert_mail_shows_a_hostile_device_as_plain_words(user, password, agent):
    known = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    api_post(Client(HTTP_USER_AGENT=known), "login/", {"email": user.email, "password": password})

    api_post(Client(HTTP_USER_AGENT=agent), "login/", {"email": user.email, "password": password})

    [message] = [m for m in outbox_for(user.email) if "New sign-in" in m.subject]
    [(html, _type)] = message.alternatives
    device = re.search(r"^Device: (.*)$", message.body, re.M).group(1)
    assert SHOWN.fullmatch(device) and device == device_name(agent)
    assert f"<td>{device}</td>" in html
    for body in (message.body, html):
        assert "0100" not in body  # the phone number
        assert "\u202e" not in body and "\\" not in body and "^" not in body
