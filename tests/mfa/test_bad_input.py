"""Bad input to every MFA form and endpoint: a 4xx (the envelope for the API, field errors on
pages), never a 500, and nothing written."""

from __future__ import annotations

import json

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from audit.models import Event
from authsuite.models import OutboxMessage
from mfa.models import (
    EnforcementState,
    RecoveryCode,
    RecoveryCodeSet,
    TOTPDevice,
    TrustedBrowser,
)
from tests.mfa.support import API, begin_setup, enroll, login, signed_in

pytestmark = pytest.mark.django_db

JSON = "application/json"
TEN_MB = 10 * 1024 * 1024


def snapshot() -> dict:
    """Every row an MFA flow writes, with the columns it would change."""
    return {
        "totp": list(TOTPDevice.objects.order_by("pk").values_list(
            "pk", "confirmed", "last_t", "sealed_key", "throttling_failure_count", "last_used_at")),
        "sets": list(RecoveryCodeSet.objects.order_by("pk").values_list("pk", "last_used_at")),
        "codes": list(RecoveryCode.objects.order_by("pk").values_list("pk", "used_at")),
        "trusted": list(TrustedBrowser.objects.order_by("pk").values_list("pk", "last_used_at")),
        "enforcement": EnforcementState.objects.count(),
        "events": Event.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "sessions": Session.objects.count(),
    }


def assert_envelope(response, status: int, code: str | set[str], field: str | None = None):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert len(response.content) < 10_000  # never echoes a big input back
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    codes = {code} if isinstance(code, str) else code
    assert body["error"]["code"] in codes, body
    assert body["error"]["message"]
    if field:
        assert field in body["error"]["fields"], body


@pytest.fixture
def pending(client, user, password):
    """A sign-in waiting at the challenge."""
    enroll(user)
    assert login(client, user, password)["Location"] == reverse("mfa:challenge")
    return client


@pytest.fixture
def setting_up(client, user, password):
    """Signed in moments ago with a pending authenticator app."""
    login(client, user, password)
    begin_setup(client)
    assert TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    return client


@pytest.fixture
def enrolling(settings, client, user, password):
    """A sign-in waiting for its mandatory enrollment, with a pending app."""
    settings.AUTHSUITE_MFA_REQUIRED = "everyone"
    assert login(client, user, password)["Location"] == reverse("mfa:enroll")
    begin_setup(client, reverse("mfa:enroll"))
    return client


# --- JSON bodies ----------------------------------------------------------------------------

BODIES = [
    ("truncated", '{"code": ', JSON, 400, "malformed_request"),
    ("single-quotes", "{'code': '123456'}", JSON, 400, "malformed_request"),
    ("nan", '{"code": NaN}', JSON, 400, "malformed_request"),
    ("duplicate-key", '{"code": "000000", "trust_browser": false, "code": "123456"}', JSON, 400,
     "malformed_request"),
    ("invalid-utf8", b'{"code": "\xff\xfe"}', JSON, 400, "malformed_request"),
    ("deeply-nested", "[" * 50_000 + "]" * 50_000, JSON, 400, "malformed_request"),
    ("list", '["123456"]', JSON, 400, "invalid"),
    ("string", '"123456"', JSON, 400, "invalid"),
    ("null", "null", JSON, 400, "invalid"),
    ("number", "123456", JSON, 400, "invalid"),
    ("empty-object", "{}", JSON, 400, "invalid"),
    ("empty-body", "", JSON, 400, "invalid"),
    ("form-encoded", "code=123456", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type"),
    ("text-plain", '{"code": "123456"}', "text/plain", 415, "unsupported_media_type"),
    ("ten-megabytes", '{"code": "' + "1" * TEN_MB + '"}', JSON, 413, "request_too_large"),
]

CODE_VALUES = [
    ("integer", 123456), ("float", 1.5), ("true", True), ("null", None), ("list", ["123456"]),
    ("object", {"code": "123456"}), ("blank", ""), ("overlong", "1" * 33),
    ("huge", "1" * 100_000), ("nul", "123\x00456"), ("control", "123\x01456"),
    ("escape", "\x1b[2J123456"), ("newline", "123\n456"), ("del", "123456\x7f"),
    ("c1-control", "123\x9b456"), ("rtl-override", "\u202e123456"),
    ("lrm", "\u200e123456"), ("rlm", "123456\u200f"), ("alm", "123\u061c456"),
    ("lone-surrogate", "\ud800"), ("surrogate-inside", "12\udfff3456"),
]
# Valid text that is no code: a wrong code, refused by the flow (an audited failure).
# (Full-width and Arabic-Indic digits are digits: test_digits.py.)
WRONG_TEXT = [
    ("superscripts", "\u00b9\u00b2\u00b3\u2074\u2075\u2076"),
    ("circled", "\u2460\u2461\u2462\u2463\u2464\u2465"), ("emoji", "\U0001f4a9" * 6),
    ("rtl", "\u05d0123456"), ("sql", "' OR 1=1 --"), ("html", "<script>x</script>"),
    ("combining", "1\u03012\u03013\u0301"),
]
TRUST_VALUES = [("string", "yes"), ("number", 2), ("one", 1), ("list", []), ("object", {}),
                ("null", None), ("true-string", "true")]

ENDPOINTS = {  # path: fixture giving a client for which the endpoint acts
    "mfa/challenge/": "pending",
    "mfa/totp/activate/": "setting_up",
}


@pytest.mark.parametrize("path", list(ENDPOINTS) + ["mfa/totp/activate/#enrolling"])
@pytest.mark.parametrize(("case", "body", "content_type", "status", "code"), BODIES,
                         ids=[b[0] for b in BODIES])
def test_bodies_that_are_not_a_json_object(request, path, case, body, content_type, status, code):
    path, _, fixture = path.partition("#")
    client = request.getfixturevalue(fixture or ENDPOINTS[path])
    before = snapshot()
    response = client.generic("POST", API + path, body, content_type=content_type)
    assert_envelope(response, status, code)
    assert snapshot() == before


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize(("case", "value"), CODE_VALUES, ids=[c[0] for c in CODE_VALUES])
def test_bad_code_values(request, path, case, value):
    client = request.getfixturevalue(ENDPOINTS[path])
    before = snapshot()
    # json.dumps writes a lone surrogate as "\ud800", the way a careless client sends it.
    response = client.generic("POST", API + path, json.dumps({"code": value}), content_type=JSON)
    assert_envelope(response, 400, "invalid", field="code")
    assert snapshot() == before


def test_a_code_with_control_characters_names_them(pending):
    before = snapshot()
    response = pending.post(API + "mfa/challenge/", {"code": "\u202e123456\x1b"},
                            content_type=JSON)
    assert_envelope(response, 400, "invalid", field="code")
    assert response.json()["error"]["fields"]["code"] == [
        "Remove the control characters U+202E (RIGHT-TO-LEFT OVERRIDE), U+001B."]
    assert snapshot() == before


def test_a_missing_code(pending):
    before = snapshot()
    response = pending.post(API + "mfa/challenge/", {"trust_browser": True}, content_type=JSON)
    assert_envelope(response, 400, "invalid", field="code")
    assert snapshot() == before


@pytest.mark.parametrize(("case", "value"), TRUST_VALUES, ids=[c[0] for c in TRUST_VALUES])
def test_bad_trust_browser_values(pending, user, clock, case, value):
    before = snapshot()
    response = pending.post(API + "mfa/challenge/", {"code": "123456", "trust_browser": value},
                            content_type=JSON)
    assert_envelope(response, 400, "invalid", field="trust_browser")
    assert snapshot() == before


@pytest.mark.parametrize(("case", "value"), WRONG_TEXT, ids=[c[0] for c in WRONG_TEXT])
def test_hostile_text_is_just_a_wrong_code(pending, user, case, value):
    response = pending.post(API + "mfa/challenge/", {"code": value}, content_type=JSON)
    assert_envelope(response, 400, "mfa_code_invalid", field="code")
    assert not signed_in(pending)
    assert TOTPDevice.objects.get().last_t == -1
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()
    assert Event.objects.filter(action="mfa.challenge.failed").count() == 1


@pytest.mark.parametrize("path", ["mfa/totp/setup/", "mfa/recovery-codes/", "mfa/totp/",
                                  "mfa/trusted-browsers/1/"])
@pytest.mark.parametrize(("case", "body", "content_type"), [
    ("truncated", '{"code": ', JSON), ("invalid-utf8", b"\xff", JSON), ("null", "null", JSON),
    ("form-encoded", "a=b", "application/x-www-form-urlencoded"),
    ("ten-megabytes", "1" * TEN_MB, JSON),
])
def test_bodyless_endpoints_never_fail_on_a_body(setting_up, path, case, body, content_type):
    method = "DELETE" if path in ("mfa/totp/", "mfa/trusted-browsers/1/") else "POST"
    response = setting_up.generic(method, API + path, body, content_type=content_type)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert_envelope(response, response.status_code, response.json()["error"]["code"])


@pytest.mark.parametrize("bogus", ["abc", "-1", "0", "1.5", "%00", "%ED%A0%80", "9" * 30,
                                   "9" * 5000, "1%20OR%201=1", "\u00b2"])
def test_bogus_trusted_browser_ids(setting_up, bogus):
    before = snapshot()
    response = setting_up.delete(API + f"mfa/trusted-browsers/{bogus}/")
    assert_envelope(response, 404, {"not_found", "mfa_trusted_browser_not_found"})
    assert snapshot() == before


@pytest.mark.parametrize("method", ["put", "patch", "get"])
def test_wrong_methods(pending, method):
    response = pending.generic(method.upper(), API + "mfa/challenge/", '{"code": "1"}',
                               content_type=JSON)
    assert_envelope(response, 405, "method_not_allowed")


# --- HTML forms -----------------------------------------------------------------------------

FORM_VALUES = [
    ("missing", None, "This field is required."),
    ("blank", "", "This field is required."),
    ("overlong", "1" * 40, "Ensure this value has at most"),
    ("huge", "1" * 200_000, None),
    ("nul", "123\x00456", "Null characters are not allowed."),
    ("control", "123\x01456", "Remove the control character U+0001."),
    ("escape", "\x1b[31m1234", "Remove the control character U+001B."),
    ("rlm", "123456\u200f", "Remove the control character U+200F (RIGHT-TO-LEFT MARK)."),
    ("alm", "\u061c123456", "Remove the control character U+061C (ARABIC LETTER MARK)."),
]
PAGES = {"mfa:challenge": "pending", "mfa:totp_setup": "setting_up", "mfa:enroll": "enrolling"}


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(("case", "value", "message"), FORM_VALUES, ids=[f[0] for f in FORM_VALUES])
def test_bad_form_values(request, page, case, value, message):
    client = request.getfixturevalue(PAGES[page])
    before = snapshot()
    data = {} if value is None else {"code": value}
    response = client.post(reverse(page), data)
    assert response.status_code in (200, 400, 413), response.status_code
    if message:
        assert response.status_code == 200
        assert message in response.content.decode()
        assert 'class="error"' in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(("page", "data"), [
    *((page, {"code": "123\x00456"}) for page in PAGES),
    ("mfa:challenge", {"kind": "recovery", "code": "4k2m\x00-9x7q"}),
])
def test_a_nul_in_a_code_is_refused_once(request, page, data):
    # Django's own check and the suite's control characters refused it each: "Null
    # characters are not allowed." and "Remove the control character U+0000." together.
    client = request.getfixturevalue(PAGES[page])
    before = snapshot()
    response = client.post(reverse(page), data)
    html = response.content.decode()
    assert html.count("Null characters are not allowed.") == 1
    assert "U+0000" not in html
    assert snapshot() == before


@pytest.mark.parametrize("page", list(PAGES))
def test_invalid_utf8_in_a_form(request, page):
    client = request.getfixturevalue(PAGES[page])
    before = snapshot()
    response = client.generic("POST", reverse(page), b"code=%ff%fe%ED%A0%80",
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500
    assert snapshot()["totp"] == before["totp"]


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_pages_answer_only_get_and_post(request, page, method):
    client = request.getfixturevalue(PAGES[page])
    before = snapshot()
    response = client.generic(method.upper(), reverse(page), "code=123456",
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 405
    assert snapshot() == before


@pytest.mark.parametrize("value", ["", "abc", "-1", "1.5", "\u00b2", "\u0661", "9" * 5000,
                                   "99999999999999999999999", "1 OR 1=1", "\x00", "all "])
def test_bad_trusted_browser_ids_on_the_overview(setting_up, user, value):
    from datetime import timedelta

    from django.utils import timezone

    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=1))
    before = snapshot()
    response = setting_up.post(reverse("mfa:index"), {"action": "untrust", "trusted": value},
                               follow=True)
    assert response.status_code == 200
    assert "No such browser." in response.content.decode()
    assert snapshot()["trusted"] == before["trusted"]


@pytest.mark.parametrize("action", ["", "nope", "\x00", "untrust\n"])
def test_unknown_overview_actions(setting_up, action):
    before = snapshot()
    response = setting_up.post(reverse("mfa:index"), {"action": action, "trusted": "all"})
    assert response.status_code == 302
    assert snapshot() == before


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/",
                                      "javascript:alert(1)", "/\\evil.example", "\x00",
                                      "/" + "a" * 5000])
def test_hostile_next_on_the_challenge(pending, user, clock, next_url):
    device = TOTPDevice.objects.get()
    from mfa import totp

    code = clock.code(totp.base32(totp.device_key(device)))
    response = pending.post(reverse("mfa:challenge"), {"code": code, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] in ("/accounts/", "/" + "a" * 5000)


@pytest.mark.parametrize(("next_url", "location"), [
    ("security", "security"), ("<b>", "%3Cb%3E"), ("\ufffd", "%EF%BF%BD"),
    ("mfa:index", "/mfa/"),  # has a scheme ("mfa"): not a URL of this site, the default
])
def test_a_next_without_a_slash_after_a_step_up_is_no_500(two_factor_session, clock,
                                                          next_url, location):
    # django.shortcuts.redirect() took a next without "/" or "." for a URL pattern's name
    # and raised NoReverseMatch for any other: the code was proven (and recorded), then the
    # page answered 500. The sign-in's own redirect never looked names up.
    client, secret, _codes = two_factor_session
    clock.step()

    response = client.post(reverse("mfa:challenge"),
                           {"code": clock.code(secret), "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == location
