"""Bad input to every JSON endpoint under /api/auth/v1/.

Whatever a client sends, the API answers 4xx in the one envelope with a stable code, never a
500, and a refused request leaves the database exactly as it was. The endpoints are read
from the URLconf, so a new endpoint is covered the day it is routed.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework import serializers
from rest_framework.test import APIClient

from accounts import tokens
from tests.accounts.db_state import snapshot
from tests.conftest import STRONG_PASSWORD
from tests.endpoints import API, HTTP_METHODS, Endpoint, api_endpoints
from tests.factories import UserFactory

User = get_user_model()

pytestmark = pytest.mark.django_db

JSON = "application/json"
MAX_ERROR_BYTES = 10_000  # an error never echoes a large input back

ENDPOINTS = api_endpoints()
INPUT_ENDPOINTS = [e for e in ENDPOINTS if e.serializer is not None]
BODYLESS_WRITES = [
    (e, m) for e in ENDPOINTS if e.serializer is None for m in e.methods if m != "get"
]
PRIVATE = [(e, m) for e in ENDPOINTS for m in e.methods if e.needs_sign_in_for(m)]


def test_the_urlconf_lists_the_accounts_endpoints():
    routes = {e.route for e in ENDPOINTS}
    assert {"login/", "signup/", "reauthenticate/", "emails/<int:pk>/", "password/reset/confirm/",
            "sessions/<int:pk>/", "account/close/"} <= routes
    assert len(INPUT_ENDPOINTS) >= 10


# --- fixtures and assertions ----------------------------------------------------------------


@pytest.fixture
def signed_in(user, password):
    """A session client with a fresh authentication record (sensitive actions allowed)."""
    client = APIClient()
    client.force_login(user)
    response = client.post(API + "reauthenticate/", {"password": password}, format="json")
    assert response.status_code == 200, response.content
    return client


@pytest.fixture
def anonymous(db):
    return APIClient()


def client_for(request, endpoint: Endpoint, signed_in: bool) -> APIClient:
    return request.getfixturevalue("signed_in" if signed_in else "anonymous")


def assert_envelope(response, status: int, code: str | set[str]) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    assert len(response.content) < MAX_ERROR_BYTES
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    codes = {code} if isinstance(code, str) else code
    assert error["code"] in codes, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    for name, messages in error["fields"].items():
        assert isinstance(name, str)
        assert messages and all(isinstance(m, str) for m in messages)
    return error


def error_code(response) -> str:
    return response.json()["error"]["code"]


def send(client, method: str, url: str, body, content_type: str = JSON, **extra):
    return client.generic(method.upper(), url, body, content_type=content_type, **extra)


# --- whole bodies that are not a JSON object ------------------------------------------------

TEN_MB = 10 * 1024 * 1024

BODIES = [
    # id, body, content type, status, code
    ("truncated", '{"email": ', JSON, 400, "malformed_request"),
    ("single-quotes", "{'email': 'ann@example.com'}", JSON, 400, "malformed_request"),
    ("trailing-comma", '{"email": "ann@example.com",}', JSON, 400, "malformed_request"),
    ("nan", '{"email": NaN, "password": Infinity}', JSON, 400, "malformed_request"),
    ("invalid-utf8", b'{"email": "\xff\xfe\xfd"}', JSON, 400, "malformed_request"),
    ("deeply-nested", "[" * 50_000 + "]" * 50_000, JSON, 400, "malformed_request"),
    ("deeply-nested-object", '{"a":' * 30_000 + "1" + "}" * 30_000, JSON, 400, "malformed_request"),
    ("too-many-digits", '{"email": ' + "9" * 5000 + "}", JSON, 400, "malformed_request"),
    # Python keeps the last value of a key given twice, other parsers the first: a proxy or
    # a log could read another request from the one acted on.
    ("duplicate-key", '{"email": "ann@example.com", "password": "x", "token": "x", '
                      '"new_password": "x", "email": "eve@example.com"}', JSON, 400,
     "malformed_request"),
    ("duplicate-key-nested", '{"credential": {"id": "a", "id": "b"}}', JSON, 400,
     "malformed_request"),
    ("list", "[]", JSON, 400, "invalid"),
    ("list-of-object", '[{"email": "ann@example.com"}]', JSON, 400, "invalid"),
    ("string", '"ann@example.com"', JSON, 400, "invalid"),
    ("null", "null", JSON, 400, "invalid"),
    ("number", "42", JSON, 400, "invalid"),
    ("boolean", "true", JSON, 400, "invalid"),
    ("empty-object", "{}", JSON, 400, "invalid"),
    ("empty-body", "", JSON, 400, "invalid"),
    ("form-encoded", "email=ann%40example.com&password=x&token=x",
     "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("multipart", '--B\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@example.com\r\n--B--\r\n',
     "multipart/form-data; boundary=B", 415, "unsupported_media_type"),
    ("text-plain", '{"email": "ann@example.com"}', "text/plain", 415, "unsupported_media_type"),
    ("ten-megabytes", '{"email": "' + "a" * TEN_MB + '"}', JSON, 413, "request_too_large"),
]


# Public endpoints get every body signed out, and these again signed in.
SIGNED_IN_TOO = {"truncated", "deeply-nested", "null", "form-encoded", "ten-megabytes",
                 "duplicate-key"}


def _body_params():
    params = []
    for endpoint in INPUT_ENDPOINTS:
        for case, body, ctype, status, code in BODIES:
            modes = [True] if endpoint.needs_sign_in else [False]
            if not endpoint.needs_sign_in and case in SIGNED_IN_TOO:
                modes.append(True)
            params += [
                pytest.param(endpoint, signed, body, ctype, status, code,
                             id=f"{endpoint}-{'in' if signed else 'anon'}-{case}")
                for signed in modes
            ]
    return params


@pytest.mark.parametrize(("endpoint", "signed", "body", "content_type", "status", "code"), _body_params())
def test_body_that_is_not_a_json_object(request, endpoint, signed, body, content_type, status, code):
    client = client_for(request, endpoint, signed)
    before = snapshot()
    response = send(client, "post", endpoint.url(), body, content_type)
    assert_envelope(response, status, code)
    assert snapshot() == before


# --- one bad field at a time ----------------------------------------------------------------

BASE_VALUES = {
    "email": "nobody@example.com",
    "password": STRONG_PASSWORD,
    "new_password": "another quite long passphrase 2024",
    "current_password": STRONG_PASSWORD,
    "token": "A" * 43,
    "name": "Ann",
    "remember": False,
}

# Never a string: refused by every text field.
NOT_TEXT = [12345, 1.5, True, False, None, [], ["ann@example.com"], {"email": "ann@example.com"}]
# Refused by any text field, whatever it holds.
BAD_TEXT = ["\x00", "abc\x00def", "\ud800", "abc\udfffdef", "\ud83d"]
# Text no email address may hold.
NOT_AN_EMAIL = [
    "", " ", "ann", "ann@", "@example.com", "ann@@example.com", "ann example@example.com",
    "\U0001f469\u200d\U0001f4bb@example.com", "\u202eann@example.com", "a\u0301nn@example.com",
    "ann@example.com\r\nBcc: eve@example.com", "ann@example.com\x01", "ann@exa\x7fmple.com",
    "' OR '1'='1' --@example.com", "ann'; DROP TABLE accounts_user;--", "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>@example.com', "../../etc/passwd",
]
# Text that reaches a token lookup and matches nothing.
BOGUS_TOKENS = [
    "x", "../../../../etc/passwd", "..%2F..%2F", "\u00e9t\u00e9" * 10, "\U0001f4a9" * 20,
    "' OR 1=1 --", "<script>alert(1)</script>", "\x01\x1b[2J", "\u202e\u0301" * 5,
    "A" * 128,
]


def _field_cases(serializer_class):
    fields = serializer_class().fields
    for name, field in fields.items():
        if field.required:
            yield name, "missing", None
        if isinstance(field, serializers.BooleanField):
            # Only JSON true and false: DRF's own field reads "no", 0 and "yes" as booleans.
            for value in ["maybe", 2, [], {}, None, "no", "yes", 0, 1, "true", "false"]:
                yield name, "bad-boolean", value
            continue
        for value in NOT_TEXT + BAD_TEXT:
            yield name, "bad-value", value
        if field.max_length:
            yield name, "overlong", "a" * (field.max_length + 1)
        if not field.allow_blank:
            yield name, "blank", ""
        if isinstance(field, serializers.EmailField):
            for value in NOT_AN_EMAIL:
                yield name, "not-an-email", value
        elif "password" not in name and name != "token":
            for value in ["\x01", "ann\nann", "ann\x1b[31m", "ann\x7f"]:
                yield name, "control-character", value
        if name == "token":
            for value in BOGUS_TOKENS:
                yield name, "bogus-token", value


def _field_params():
    params = []
    for endpoint in INPUT_ENDPOINTS:
        for index, (name, kind, value) in enumerate(_field_cases(endpoint.serializer)):
            params.append(pytest.param(endpoint, name, kind, value, id=f"{endpoint}-{name}-{kind}-{index}"))
    return params


#: Endpoints that take a link's token with other fields, and the token's purpose.
LINK_PURPOSES = {"password/reset/confirm/": tokens.Purpose.PASSWORD_RESET,
                 "email/verify/": tokens.Purpose.VERIFY_EMAIL}


@pytest.mark.parametrize(("endpoint", "name", "kind", "value"), _field_params())
def test_one_bad_field(request, endpoint, name, kind, value):
    client = client_for(request, endpoint, endpoint.needs_sign_in)
    body = {f: BASE_VALUES[f] for f in endpoint.serializer().fields}
    purpose = LINK_PURPOSES.get(endpoint.route)
    if purpose is not None and name != "token":
        # A dead link's token is refused before the other fields are looked at: a live one,
        # so that the field at fault is what is answered.
        user = request.getfixturevalue("user")
        body["token"] = tokens.token_issue(user=user, purpose=purpose, email=user.email,
                                           lifetime=600)
    if kind == "missing":
        del body[name]
    else:
        body[name] = value
    before = snapshot()
    # json.dumps escapes lone surrogates ("\ud800") the way a careless client sends them.
    response = send(client, "post", endpoint.url(), json.dumps(body))
    if kind == "bogus-token":
        assert_envelope(response, 400, "token_invalid")
    else:
        error = assert_envelope(response, 400, "invalid")
        assert name in error["fields"], error
    assert snapshot() == before


@pytest.mark.parametrize(("body", "got"), [("null", "null"), ("[]", "list"), ('"x"', "str"),
                                         ("42", "int")])
@pytest.mark.parametrize("path", ["login/", "signup/", "mfa/challenge/", "passkeys/login/",
                                  "security/alerts/"])
def test_a_body_that_is_no_object_says_what_it_is(signed_in, path, body, got):
    # DRF words a null body "No data provided", which is untrue: it was sent, as null.
    response = send(signed_in, "post", API + path, body)
    error = assert_envelope(response, 400, "invalid")
    assert error["message"] == f"Invalid data. Expected a dictionary, but got {got}."
    assert error["fields"] == {}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"email": "\xff"}', "JSON parse error - the body is not valid UTF-8 (at byte offset 11)."),
    ('\ufeff{"email": "ann@example.com"}'.encode(), "JSON parse error - the body starts with "
     "a byte order mark (U+FEFF), which JSON sent over a network must not have."),
])
def test_a_body_that_is_no_json_text_says_why_in_the_clients_terms(anonymous, body, message):
    # Python's words were "'utf-8' codec can't decode byte 0xff in position 11: invalid start
    # byte" and "Unexpected UTF-8 BOM (decode using utf-8-sig)".
    before = snapshot()
    response = send(anonymous, "post", API + "login/", body)
    assert assert_envelope(response, 400, "malformed_request")["message"] == message
    assert snapshot() == before


def test_wrong_types_are_not_coerced_to_text(signed_in, user, password):
    """A number that happens to be a valid password is refused, not converted and set."""
    before = snapshot()
    response = signed_in.post(API + "password/change/", {"new_password": 918273645546372819},
                              format="json")
    error = assert_envelope(response, 400, "invalid")
    assert error["fields"] == {"new_password": ["Not a valid string."]}
    assert snapshot() == before
    user.refresh_from_db()
    assert user.check_password(password)


# --- endpoints that read no body ------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "method", "case", "body", "content_type"),
    [
        pytest.param(e, m, case, body, ctype, id=f"{e}-{m}-{case}")
        for e, m in BODYLESS_WRITES
        for case, body, ctype, *_ in BODIES
        if case in SIGNED_IN_TOO
    ],
)
def test_bodyless_endpoint_never_fails_on_a_body(signed_in, endpoint, method, case, body, content_type):
    response = send(signed_in, method, endpoint.url(), body, content_type)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert_envelope(response, response.status_code, error_code(response))


# --- signed-out clients, wrong methods, bogus ids -------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [pytest.param(e, m, id=f"{e}-{m}") for e, m in PRIVATE],
)
@pytest.mark.parametrize("body", ['{"email": ', '{"password": 1}'])
def test_signed_out_client_is_refused_before_its_body_is_read(anonymous, user, endpoint, method, body):
    before = snapshot()
    response = send(anonymous, method, endpoint.url(pk=user.pk), body)
    assert_envelope(response, 403, "not_authenticated")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [pytest.param(e, m, id=f"{e}-{m}") for e in ENDPOINTS for m in HTTP_METHODS if m not in e.methods],
)
def test_wrong_method(signed_in, endpoint, method):
    before = snapshot()
    response = send(signed_in, method, endpoint.url(), '{"email": "ann@example.com"}')
    assert_envelope(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert {m.upper() for m in endpoint.methods} <= allowed
    assert method.upper() not in allowed
    assert snapshot() == before


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [pytest.param(e, m, id=f"{e}-{m}") for e in ENDPOINTS for m in e.methods],
)
@pytest.mark.parametrize("fmt", ["xml", "api", "yaml", "JSON"])
def test_a_format_the_api_has_not_is_not_acceptable(signed_in, user, endpoint, method, fmt):
    """``?format=`` naming anything but json: the 406 an Accept header without JSON gets, as
    the schema documents, not DRF's 404 for a path that exists (and nothing is done)."""
    before = snapshot()
    url = endpoint.url(pk=user.pk) + f"?format={fmt}"
    response = send(signed_in, method, url, '{"email": "ann@example.com"}')
    assert_envelope(response, 406, "not_acceptable")
    assert snapshot() == before


def test_format_json_is_the_format_the_api_answers_in(signed_in):
    response = signed_in.get(API + "session/?format=json")
    assert response.status_code == 200
    assert response.json()["authenticated"] is True


BOGUS_IDS = [
    "abc", "-1", "0", "1.5", "%2e%2e", "..%2F..%2Fadmin", "%00", "%ED%A0%80", "%C3%A9",
    "99999999999999999999999999999", "9" * 5000, "1%20OR%201=1", "%3Cscript%3E",
]


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [pytest.param(e, m, id=f"{e}-{m}") for e in ENDPOINTS if "<" in e.route for m in e.methods],
)
@pytest.mark.parametrize("bogus", BOGUS_IDS)
def test_bogus_id_in_path(signed_in, endpoint, method, bogus):
    before = snapshot()
    url = re.sub(r"<[^>]+>", bogus, API + endpoint.route)
    response = send(signed_in, method, url, "")
    error = assert_envelope(response, 404, {error_code(response)})
    assert error["code"] == "not_found" or error["code"].endswith("_not_found"), error
    assert snapshot() == before


@pytest.mark.parametrize("path", [
    "nope/", "login/extra/", "../admin/", "%2e%2e/%2e%2e/admin/", "emails//",
    "x" * 5000 + "/", "\u00e9t\u00e9/", "%00/", "%ED%A0%80/", "sessions/1/../../login/",
])
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_api_path(anonymous, path, method):
    response = send(anonymous, method, API + path, "{}")
    if response.status_code == 301:  # APPEND_SLASH for a GET: the target is answered below
        response = send(anonymous, method, response["Location"], "{}")
    assert_envelope(response, 404, "not_found")


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", ["login", "emails/1", "sessions/end-others"])
def test_an_api_path_a_slash_short_says_so(anonymous, settings, debug, method, path):
    settings.DEBUG = debug

    response = send(anonymous, method, API + path, '{"email": "ann@example.com"}')

    error = assert_envelope(response, 404, "not_found")
    assert error["message"] == "Not found. API paths end with a slash."


def test_an_unknown_api_path_is_in_the_envelope_whatever_the_projects_404(anonymous, settings):
    settings.DEBUG = True  # Django's own 404 page, not the demo's handler404

    for path in ("nope/", "nope", "login/extra"):
        error = assert_envelope(send(anonymous, "post", API + path, "{}"), 404, "not_found")
        assert error["message"] == "Not found."


# --- hostile but valid text ------------------------------------------------------------------

HOSTILE_NAME = (
    "<script>alert(1)</script> Robert'); DROP TABLE accounts_user;-- "
    "\U0001f469\u200d\U0001f4bb e\u0301 \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
)


@pytest.mark.own_user_model
@pytest.mark.parametrize("password_text", [
    "' OR '1'='1' -- and then some",
    "<script>alert(document.cookie)</script>",
    "\U0001f511\U0001f511 emoji passphrase \u05e9\u05dc\u05d5\u05dd",
])
def test_hostile_but_valid_text_is_stored_verbatim(anonymous, password_text):
    response = anonymous.post(API + "signup/", {
        "email": "robert@example.com", "password": password_text, "name": HOSTILE_NAME,
    }, format="json")
    assert response.status_code == 201, response.content
    user = User.objects.get(email="robert@example.com")
    assert user.name == HOSTILE_NAME
    assert user.check_password(password_text)
    assert User.objects.count() == 1  # and the table is still there


@pytest.mark.parametrize(("name", "message"), [
    # a C1 control: CSI, as a terminal reads it
    ("Ann\u009b31m", "Remove the control character U+009B."),
    # bidi override and isolate: shown otherwise than kept
    ("\u202eAnn", "Remove the control character U+202E (RIGHT-TO-LEFT OVERRIDE)."),
    ("Ann\u2066x\u2069", "Remove the control characters U+2066 (LEFT-TO-RIGHT ISOLATE), "
                         "U+2069 (POP DIRECTIONAL ISOLATE)."),
    # the marks LRM, RLM and ALM reorder text too
    ("\u200eAnn", "Remove the control character U+200E (LEFT-TO-RIGHT MARK)."),
    ("Ann\u200f", "Remove the control character U+200F (RIGHT-TO-LEFT MARK)."),
    ("An\u061cn", "Remove the control character U+061C (ARABIC LETTER MARK)."),
    # NEL inside (at either end it is trimmed as a space)
    ("An\x85n", "Remove the control character U+0085."),
])
def test_c1_and_bidi_controls_in_a_name_are_refused_by_name(anonymous, name, message):
    response = anonymous.post(API + "signup/", {
        "email": "robert@example.com", "password": "correct horse battery staple", "name": name,
    }, format="json")
    assert assert_envelope(response, 400, "invalid")["fields"]["name"] == [message]
    assert not User.objects.exists()
    page = Client().post("/accounts/signup/", {
        "email": "robert@example.com", "password": "correct horse battery staple", "name": name})
    assert message in page.content.decode()
    assert not User.objects.exists()


def test_sql_metacharacters_sign_nobody_in(anonymous, user):
    before = snapshot()
    response = anonymous.post(API + "login/", {
        "email": user.email, "password": "' OR '1'='1' --",
    }, format="json")
    assert_envelope(response, 400, "invalid_credentials")
    assert anonymous.get(API + "session/").json()["authenticated"] is False
    after = snapshot()
    after.pop("throttles")  # a failed sign-in is counted, by design
    before.pop("throttles")
    assert after == before


# --- CSRF --------------------------------------------------------------------------------------


def test_csrf_is_enforced_for_session_authenticated_posts(user, password):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(API + "session/").json()["authenticated"] is True

    before = snapshot()
    response = client.post(API + "logout/", format="json")
    assert_envelope(response, 403, "csrf_failed")
    response = client.post(API + "reauthenticate/", {"password": password}, format="json",
                           HTTP_X_CSRFTOKEN="forged" * 8)
    assert_envelope(response, 403, "csrf_failed")
    assert "_authsuite_auth" not in client.session
    assert snapshot() == before
    assert client.get(API + "session/").json()["authenticated"] is True

    token = client.get(API + "csrf/").json()["detail"]
    response = client.post(API + "logout/", format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 204
    assert client.get(API + "session/").json()["authenticated"] is False


def test_a_cross_site_form_cannot_sign_in_through_the_api(user, password):
    """A cross-site form has no CSRF token, and can send only form-encoded, multipart or
    text/plain bodies: refused for either reason, signed in or not."""
    client = APIClient(enforce_csrf_checks=True)
    bodies = [
        ("application/x-www-form-urlencoded", f"email={user.email}&password={password}"),
        ("text/plain", json.dumps({"email": user.email, "password": password})),
        ("text/plain", ""),
    ]
    for content_type, body in bodies:
        response = send(client, "post", API + "login/", body, content_type)
        assert_envelope(response, 403, "csrf_failed")
    token = client.get(API + "csrf/").json()["detail"]
    for content_type, body in bodies[:2]:
        response = send(client, "post", API + "login/", body, content_type,
                        HTTP_X_CSRFTOKEN=token)
        assert_envelope(response, 415, "unsupported_media_type")
    assert client.get(API + "session/").json()["authenticated"] is False


# --- ids of another account's rows, and ids that are no id -----------------------------------


@pytest.fixture
def others_rows(db):
    """One row of another account behind every path with an id, and what each is."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import EmailAddress, UserSession
    from mfa.models import TrustedBrowser
    from passkeys.models import Passkey

    other = User.objects.get(pk=UserFactory(password=STRONG_PASSWORD).pk)
    now = timezone.now()
    return {
        "emails": EmailAddress.objects.create(user=other, email="other2@example.com",
                                              verified=True),
        "sessions": UserSession.objects.create(user=other, key_digest="0" * 64),
        "mfa/trusted-browsers": TrustedBrowser.objects.create(
            user=other, digest="1" * 64, expires_at=now + timedelta(days=30)),
        "passkeys": Passkey.objects.create(user=other, credential_id="other-credential",
                                           public_key=b"\x00", name="Other's key"),
    }


def _row_state(row):
    row = type(row).objects.filter(pk=row.pk).values().first()
    return row and {k: v for k, v in row.items() if k != "last_seen_at"}


ID_ROUTES = [(e, m) for e in ENDPOINTS if "<" in e.route for m in e.methods]


@pytest.mark.parametrize(("endpoint", "method"), [pytest.param(e, m, id=f"{e}-{m}")
                                                  for e, m in ID_ROUTES])
def test_another_accounts_row_is_not_found(signed_in, others_rows, endpoint, method):
    """The id of a row of another account answers as an id no row has: 404, and the row is
    as it was (not removed, renamed, made primary or mailed)."""
    row = others_rows[endpoint.route.split("/<")[0]]
    before, rows_before = snapshot(), _row_state(row)

    response = send(signed_in, method, endpoint.url(pk=row.pk), json.dumps({"name": "Mine"}))

    error = assert_envelope(response, 404, {error_code(response)})
    assert error["code"].endswith("not_found"), error
    nowhere = send(signed_in, method, endpoint.url(pk=row.pk + 1000), json.dumps({"name": "Mine"}))
    assert nowhere.json() == response.json()  # the same answer as for no row at all
    assert _row_state(row) == rows_before
    assert snapshot() == before


ODD_IDS = [
    "\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() and int() take it, the URL does not
    "\uff11",  # FULLWIDTH DIGIT ONE
    "\u00b9",  # SUPERSCRIPT ONE
    "%D9%A1", "%EF%BC%91", "-1", "+1", "1e3", "0x1", "%201",
    str(2**63), str(2**70), str(-(2**70)),
]


@pytest.mark.parametrize(("endpoint", "method"), [pytest.param(e, m, id=f"{e}-{m}")
                                                  for e, m in ID_ROUTES])
@pytest.mark.parametrize("bogus", ODD_IDS)
def test_ids_that_are_no_id_of_a_row(signed_in, user, endpoint, method, bogus):
    before = snapshot()
    url = re.sub(r"<[^>]+>", bogus, API + endpoint.route)

    response = send(signed_in, method, url, json.dumps({"name": "Mine"}))

    error = assert_envelope(response, 404, {error_code(response)})
    assert error["code"].endswith("not_found"), error
    assert snapshot() == before


UNSAFE = [(e, m) for e in ENDPOINTS for m in e.methods if m != "get"]


@pytest.mark.parametrize(("endpoint", "method"), [pytest.param(e, m, id=f"{e}-{m}")
                                                  for e, m in UNSAFE])
@pytest.mark.parametrize("token", [None, "forged" * 8, ""])
def test_every_unsafe_request_of_a_session_needs_its_csrf_token(user, password, endpoint,
                                                                 method, token):
    """Signed in with a fresh authentication (so nothing else refuses first): a request
    without the session's CSRF token, or with a wrong one, changes nothing, whatever the
    method and the body."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    real = client.get(API + "csrf/").json()["detail"]
    response = client.post(API + "reauthenticate/", {"password": password}, format="json",
                           HTTP_X_CSRFTOKEN=real)
    assert response.status_code == 200, response.content
    before = snapshot()
    extra = {} if token is None else {"HTTP_X_CSRFTOKEN": token}

    response = send(client, method, endpoint.url(pk=user.pk),
                    json.dumps({"name": "Mine", "email": "new@example.com"}), **extra)

    assert_envelope(response, 403, "csrf_failed")
    assert snapshot() == before
    assert client.get(API + "session/").json()["authenticated"] is True
