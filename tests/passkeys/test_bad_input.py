"""Malformed, oversized and mistyped payloads at every passkey endpoint: always a 4xx in the
suite's envelope with a stable code, never a 500, and nothing written."""

from __future__ import annotations

import copy
import json
import random

import cbor2
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from passkeys.models import Passkey
from tests.passkeys.authenticator import SoftAuthenticator, b64url, unb64url
from tests.passkeys.support import (
    API,
    AUTH_KEY,
    ORIGIN,
    add_passkey,
    login_options,
    password_client,
    post,
    register_options,
    signed_in,
)

pytestmark = pytest.mark.django_db

VERIFY_ENDPOINTS = ["passkeys/register/", "passkeys/login/", "passkeys/second-factor/",
                    "passkeys/reauthenticate/", "passkeys/signup/complete/"]
# What a refused ceremony may answer: the one verification code, or a code that names
# why the payload never reached verification.
CODES = {"passkey_invalid", "invalid", "malformed_request", "passkey_unknown_credential",
         "passkey_challenge_missing", "request_too_large", "unsupported_media_type",
         "no_login_pending", "token_invalid"}
BAD_VALUES = [None, 0, -1, 2 ** 70, 1.5, True, [], {}, "", "!!!", "====", "A", "\x00",
              "é" * 10, "A" * 100_000, ["a"], {"a": 1}, b64url(b"\x00" * 7)]


def envelope(response) -> str:
    assert response.status_code < 500, response.content[:300]
    assert 400 <= response.status_code < 500, response.status_code
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message", "fields"}
    return body["error"]["code"]


def unchanged(passkey):
    before = (passkey.sign_count, passkey.last_used_at, passkey.flagged_at)
    passkey.refresh_from_db()
    assert (passkey.sign_count, passkey.last_used_at, passkey.flagged_at) == before


# Bodies that are not the right JSON ------------------------------------------------------------

@pytest.mark.parametrize("path", VERIFY_ENDPOINTS + ["passkeys/signup/", "passkeys/signup/options/"])
@pytest.mark.parametrize("body,content_type", [
    (b"not json", "application/json"), (b"{", "application/json"), (b"", "application/json"),
    (b"null", "application/json"), (b"[]", "application/json"), (b'"x"', "application/json"),
    (b"5", "application/json"), (b"\xff\xfe", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"credential": {}, "next": "/", "next": "https://evil.example/"}', "application/json"),
    (b'{"credential": {"id": "a", "id": "b"}, "token": "t"}', "application/json"),
    (b"credential=x", "application/x-www-form-urlencoded"), (b"x", "text/plain"),
])
def test_bodies_that_are_not_a_json_object(client, user, password, path, body, content_type,
                                           settings):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    signed = password_client(user, password)
    for browser in (client, signed):
        response = browser.generic("POST", API + path, body, content_type=content_type)
        assert envelope(response) in CODES | {"not_authenticated", "permission_denied"}
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("path", VERIFY_ENDPOINTS)
@pytest.mark.parametrize("value", BAD_VALUES + ["not json", "{}", "[]", "null"])
def test_credential_of_the_wrong_type(client, user, password, path, value, settings):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    signed = password_client(user, password)
    for browser in (client, signed):
        post(browser, "passkeys/login/options/")
        response = post(browser, path, {"credential": value, "token": "x" * 40})
        assert envelope(response) in CODES | {"not_authenticated", "permission_denied"}
    assert not Passkey.objects.exists()
    assert not signed_in(client)


@pytest.mark.parametrize("field,value", [("name", ["a"]), ("name", {"a": 1}), ("name", "x" * 101),
                                         ("next", ["/"]), ("next", "x" * 2001)])
def test_other_fields_of_the_wrong_type(user, password, field, value):
    signed = password_client(user, password)
    options = register_options(signed)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    response = post(signed, "passkeys/register/", {"credential": credential, field: value})
    assert envelope(response) == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not Passkey.objects.exists()


def test_a_body_over_the_upload_limit(client, passkey, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    login_options(client)
    response = post(client, "passkeys/login/", {"credential": "A" * 200_000})
    assert envelope(response) == "request_too_large"


def test_a_credential_over_64_kib(client, authenticator, passkey):
    options = login_options(client)
    assertion = authenticator.get(options, origin=ORIGIN)
    assertion["clientExtensionResults"] = {"padding": "A" * 70_000}
    response = post(client, "passkeys/login/", {"credential": assertion})
    assert envelope(response) == "passkey_invalid"
    unchanged(passkey)


def test_a_credential_as_a_json_string_is_accepted(client, authenticator, passkey):
    options = login_options(client)
    assertion = json.dumps(authenticator.get(options, origin=ORIGIN))
    assert post(client, "passkeys/login/", {"credential": assertion}).status_code == 200


@pytest.mark.parametrize("indent", [2, "\t"])
def test_a_credential_as_indented_json_text_is_accepted(client, authenticator, passkey, indent):
    """JSON text may have line breaks and tabs between its tokens (``JSON.stringify(credential,
    null, 2)``): they are no control characters in a name, and the text is what the schema
    documents, the same object as JSON text."""
    options = login_options(client)
    assertion = json.dumps(authenticator.get(options, origin=ORIGIN), indent=indent)
    assert "\n" in assertion
    response = post(client, "passkeys/login/", {"credential": assertion})
    assert response.status_code == 200, response.content


# Assertions with one field broken ------------------------------------------------------------

ASSERTION_FIELDS = [("id",), ("rawId",), ("type",), ("authenticatorAttachment",),
                    ("clientExtensionResults",), ("response",),
                    ("response", "clientDataJSON"), ("response", "authenticatorData"),
                    ("response", "signature"), ("response", "userHandle")]


def _set(document: dict, path: tuple, value) -> dict:
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def _delete(document: dict, path: tuple) -> dict:
    document = copy.deepcopy(document)
    target = document
    for key in path[:-1]:
        target = target[key]
    target.pop(path[-1], None)
    return document


@pytest.mark.parametrize("path", ASSERTION_FIELDS, ids=".".join)
def test_assertion_with_a_field_broken(client, authenticator, passkey, path):
    for value in BAD_VALUES + ["missing"]:
        options = login_options(client)
        assertion = authenticator.get(options, origin=ORIGIN)
        broken = _delete(assertion, path) if value == "missing" else _set(assertion, path, value)
        response = post(client, "passkeys/login/", {"credential": broken})
        if response.status_code == 200:
            # Only fields py_webauthn ignores may be anything (extension results, attachment).
            assert path in (("clientExtensionResults",), ("authenticatorAttachment",)), value
            post(client, "logout/")
            passkey.refresh_from_db()
            continue
        assert envelope(response) in CODES, (path, value)
        assert AUTH_KEY not in client.session
        unchanged(passkey)


CLIENT_DATA_VARIANTS = [
    b"", b"null", b"[]", b"{}", b"\xff\xfe\x00", b'{"type": "webauthn.get"}',
    b'{"type": "webauthn.get", "challenge": 5, "origin": "http://localhost:8000"}',
    b'{"type": "webauthn.get", "challenge": "!!", "origin": "http://localhost:8000"}',
    b'{"type": 5, "challenge": "AAAA", "origin": "http://localhost:8000"}',
    b'{"type": "webauthn.get", "challenge": "AAAA", "origin": ["http://localhost:8000"]}',
    b'{"type": "webauthn.get", "challenge": "AAAA", "origin": {}}',
    b'{"type": "webauthn.get", "challenge": "AAAA", "origin": "x", "crossOrigin": "false"}',
    b'{"type": "webauthn.get", "challenge": "AAAA", "origin": "x", "topOrigin": ["a"]}',
    b'{"type": "webauthn.get", "challenge": "AAAA", "origin": "x", "tokenBinding": {"status": 5}}',
]


@pytest.mark.parametrize("client_data", CLIENT_DATA_VARIANTS)
def test_client_data_that_is_not_what_it_should_be(client, authenticator, passkey, client_data):
    options = login_options(client)
    assertion = authenticator.get(options, origin=ORIGIN)
    assertion["response"]["clientDataJSON"] = b64url(client_data)
    assert envelope(post(client, "passkeys/login/", {"credential": assertion})) == "passkey_invalid"
    unchanged(passkey)


@pytest.mark.parametrize("length", [0, 1, 32, 36, 38, 200])
def test_authenticator_data_of_any_length(client, authenticator, passkey, length):
    options = login_options(client)
    assertion = authenticator.get(options, origin=ORIGIN)
    data = unb64url(assertion["response"]["authenticatorData"])
    assertion["response"]["authenticatorData"] = b64url((data * 10)[:length])
    assert envelope(post(client, "passkeys/login/", {"credential": assertion})) == "passkey_invalid"
    unchanged(passkey)


def test_random_corruption_of_assertions(client, authenticator, passkey, settings):
    settings.AUTHSUITE_PASSKEYS_RATE_LIMITS = {"login": {"ip": None}}
    rng = random.Random(20260101)
    for _ in range(150):
        options = login_options(client)
        assertion = authenticator.get(options, origin=ORIGIN)
        field = rng.choice(["clientDataJSON", "authenticatorData", "signature", "userHandle"])
        original = unb64url(assertion["response"][field])
        raw = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(raw))
            raw[position] = rng.randrange(256)
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(len(raw) + 1)]
        assertion["response"][field] = b64url(bytes(raw))
        response = post(client, "passkeys/login/", {"credential": assertion})
        if response.status_code == 200:  # the random bytes happened to change nothing
            # (compared with this assertion's own bytes: another signature of the same data
            # differs, ECDSA signatures being randomised)
            assert bytes(raw) == original
            post(client, "logout/")
            continue
        assert envelope(response) in CODES
        assert not signed_in(client)
    passkey.refresh_from_db()
    assert passkey.flagged_at is None


# Registrations with the attestation broken ------------------------------------------------------

def _attestation(credential: dict) -> dict:
    return cbor2.loads(unb64url(credential["response"]["attestationObject"]))


def _with_attestation(credential: dict, att: object) -> dict:
    credential = copy.deepcopy(credential)
    credential["response"]["attestationObject"] = b64url(cbor2.dumps(att))
    return credential


ATTESTATION_VARIANTS = [
    lambda att: None, lambda att: [], lambda att: 5, lambda att: {},
    lambda att: {**att, "fmt": 5}, lambda att: {**att, "fmt": "unknown"},
    lambda att: {**att, "fmt": "packed"}, lambda att: {**att, "fmt": "tpm"},
    lambda att: {**att, "fmt": "apple"}, lambda att: {**att, "fmt": "android-key"},
    lambda att: {**att, "fmt": "fido-u2f"}, lambda att: {**att, "fmt": "android-safetynet"},
    lambda att: {**att, "attStmt": {"alg": -7}}, lambda att: {**att, "attStmt": {"sig": b"x"}},
    lambda att: {**att, "attStmt": {"x5c": [b"not a certificate"], "sig": b"x", "alg": -7}},
    lambda att: {**att, "authData": "text"}, lambda att: {**att, "authData": b""},
    lambda att: {**att, "authData": att["authData"][:37]},
    lambda att: {**att, "authData": att["authData"][:60]},
    lambda att: {**att, "authData": att["authData"][:-5]},
    lambda att: {**att, "authData": att["authData"] + b"\x00" * 10},
    lambda att: {**att, "authData": att["authData"][:53] + b"\xff\xff" + att["authData"][55:]},
    lambda att: {k: v for k, v in att.items() if k != "authData"},
]


@pytest.mark.parametrize("variant", range(len(ATTESTATION_VARIANTS)))
def test_attestation_objects_that_are_not_what_they_should_be(user, password, variant):
    signed = password_client(user, password)
    options = register_options(signed)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    broken = _with_attestation(credential, ATTESTATION_VARIANTS[variant](_attestation(credential)))
    assert envelope(post(signed, "passkeys/register/", {"credential": broken})) == "passkey_invalid"
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\xff" * 40, b"\xa1\x01", b"\x9f" * 1000])
def test_attestation_bytes_that_are_not_cbor(user, password, raw):
    signed = password_client(user, password)
    options = register_options(signed)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    credential["response"]["attestationObject"] = b64url(raw)
    assert envelope(post(signed, "passkeys/register/", {"credential": credential})) == "passkey_invalid"
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("key", [
    {1: 2, 3: -7, -1: 1},
    [1, 2, 3], [], "a key", 7, None, {1: [2], 3: {}}, {1: 2, 3: -7, -1: 1, -2: [], -3: {}},
])
def test_a_cose_key_that_is_garbage(user, password, key):
    signed = password_client(user, password)
    options = register_options(signed)
    authenticator = SoftAuthenticator()
    credential = authenticator.create(options, origin=ORIGIN)
    att = _attestation(credential)
    # Replace the COSE key (after rpIdHash, flags, counter, AAGUID, length, id) with junk.
    id_length = int.from_bytes(att["authData"][53:55], "big")
    att["authData"] = att["authData"][: 55 + id_length] + cbor2.dumps(key)
    broken = _with_attestation(credential, att)
    assert envelope(post(signed, "passkeys/register/", {"credential": broken})) == "passkey_invalid"
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("transports", [None, "usb", 5, [5, {}, None], ["usb"] * 1000,
                                        ["internal", "x" * 1000, "hybrid", "internal"]])
def test_transports_are_kept_only_when_known(user, password, transports):
    signed = password_client(user, password)
    options = register_options(signed)
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    credential["response"]["transports"] = transports
    response = post(signed, "passkeys/register/", {"credential": credential})
    assert response.status_code == 201, response.content
    stored = Passkey.objects.get().transports
    assert set(stored) <= {"usb", "internal", "hybrid"} and len(stored) == len(set(stored))


@pytest.mark.parametrize("path", ASSERTION_FIELDS[:3] + [("response", "clientDataJSON"),
                                                         ("response", "attestationObject"),
                                                         ("response", "transports")], ids=".".join)
def test_registration_with_a_field_broken(user, password, path):
    signed = password_client(user, password)
    for value in BAD_VALUES + ["missing"]:
        options = register_options(signed)
        credential = SoftAuthenticator().create(options, origin=ORIGIN)
        broken = _delete(credential, path) if value == "missing" else _set(credential, path, value)
        response = post(signed, "passkeys/register/", {"credential": broken})
        if response.status_code == 201:
            assert path == ("response", "transports"), value
            Passkey.objects.all().delete()
            continue
        assert envelope(response) in CODES, (path, value)
        assert not Passkey.objects.exists()


# Other endpoints -------------------------------------------------------------------------------

@pytest.mark.parametrize("pk", ["0", "99999999999999999999", "abc", "-1"])
def test_detail_with_odd_ids(user, password, pk):
    signed = password_client(user, password)
    for method in ("patch", "delete"):
        response = getattr(signed, method)(f"{API}passkeys/{pk}/", {"name": "x"},
                                           content_type="application/json")
        assert response.status_code == 404
        assert envelope(response) in {"passkey_not_found", "not_found"}


@pytest.mark.parametrize("name", ["\u200b", "\ufeff", "\u2060", "\u00ad", "\u180e",
                                  "\U000e0020", " \u200b\u200d "])
def test_a_name_that_shows_nothing_is_refused(user, password, name):
    signed = password_client(user, password)
    passkey = add_passkey(signed)
    response = signed.patch(f"{API}passkeys/{passkey.pk}/", {"name": name},
                            content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["name"] == ["Give the passkey a name."]
    page = signed.post("/passkeys/", {"action": "rename", "passkey": passkey.pk, "name": name},
                       follow=True)
    assert "Give the passkey a name." in [str(m) for m in page.context["messages"]]
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


def test_rename_with_bad_bodies(user, password):
    signed = password_client(user, password)
    passkey = add_passkey(signed)
    for body in (b"x", b"[]", b'{"name": null}', b'{"name": ["a"]}', b"{}"):
        response = signed.generic("PATCH", f"{API}passkeys/{passkey.pk}/", body,
                                  content_type="application/json")
        envelope(response)
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


def test_options_endpoints_ignore_any_body(client, user, password):
    for body in (b"x", b"[]", b"null", b'{"a": 1}'):
        response = client.generic("POST", f"{API}passkeys/login/options/", body,
                                  content_type="application/json")
        assert response.status_code in (200, 400)
        if response.status_code == 400:
            envelope(response)


def test_get_on_verify_endpoints_is_refused(client):
    for path in VERIFY_ENDPOINTS:
        response = client.get(API + path)
        assert envelope(response) in {"method_not_allowed", "not_authenticated",
                                      "permission_denied"}


def test_csrf_is_enforced_for_a_signed_in_session(user, password):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    for path in ("passkeys/register/options/", "passkeys/reauthenticate/options/"):
        response = post(browser, path)
        assert response.status_code == 403
        assert envelope(response) == "csrf_failed"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_csrf_is_enforced_for_anonymous_ceremonies_too(content_type):
    # The options endpoints read no body: a cross-site form posting text/plain (or nothing)
    # would otherwise start a ceremony in the visitor's session.
    browser = Client(enforce_csrf_checks=True)
    for path in ("passkeys/login/options/", "passkeys/signup/options/"):
        response = browser.generic("POST", API + path, b"", content_type=content_type)
        assert envelope(response) == "csrf_failed"
    token = browser.get(API + "csrf/").json()["detail"]
    response = browser.generic("POST", API + "passkeys/login/options/", b"x",
                               content_type="text/plain", HTTP_X_CSRFTOKEN=token)
    assert envelope(response) == "unsupported_media_type"  # a body is parsed, read or not
    response = browser.post(API + "passkeys/login/options/", content_type="application/json",
                            HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


@pytest.mark.parametrize("nesting", ["[" * 1100 + "]" * 1100, '{"a":' * 3000 + "1" + "}" * 3000])
def test_credentials_nested_too_deep(client, authenticator, passkey, nesting):
    login_options(client)
    response = post(client, "passkeys/login/", {"credential": nesting})
    assert envelope(response) == "passkey_invalid"
    options = login_options(client)
    assertion = authenticator.get(options, origin=ORIGIN)
    assertion["response"]["clientDataJSON"] = b64url(nesting.encode())
    assert envelope(post(client, "passkeys/login/", {"credential": assertion})) == "passkey_invalid"
    unchanged(passkey)


def test_manage_page_refuses_ids_that_are_not_ascii_digits(user, password, passkey):
    browser = Client()
    browser.force_login(user)
    for raw in ("²", "١", "1" * 19, "-1", " 1"):
        for action in ("rename", "remove"):
            response = browser.post("/passkeys/", {"action": action, "passkey": raw,
                                                   "name": "x"})
            assert response.status_code == 302, (raw, action)
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


@pytest.mark.parametrize("body", [
    {"name": 12345}, {"name": ["x"]}, {"name": "\x1b[31mred\x07"}, {"name": "a\r\nX-Injected: 1"},
    {"name": "Work\u200f key"}, {"name": "\u061cWork"}, {"name": "\u200eWork"},
])
def test_rename_refuses_names_that_are_not_plain_text(user, password, body):
    signed = password_client(user, password)
    passkey = add_passkey(signed)
    response = signed.patch(f"{API}passkeys/{passkey.pk}/", body,
                            content_type="application/json")
    assert response.status_code == 400
    envelope(response)
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


def test_names_typed_on_the_page_lose_their_control_characters(user, password):
    signed = password_client(user, password)
    passkey = add_passkey(signed)
    signed.post("/passkeys/", {"action": "rename", "passkey": str(passkey.pk),
                               "name": "\x01Work\u202e key\x07\u200e\u200f\u061c "})
    passkey.refresh_from_db()
    assert passkey.name == "Work key"


@pytest.mark.parametrize("body", [
    {"email": "new@example.com", "name": 12345},
    {"email": "new@example.com", "name": "\x1b[31mred"},
    {"email": 7, "name": "Ann"},
])
def test_passkey_signup_refuses_fields_that_are_not_plain_text(client, settings, body):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    response = post(client, "passkeys/signup/", body)
    assert response.status_code == 400
    envelope(response)
    assert not get_user_model().objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("typed", ["Passkey", "  Passkey ", "\x01Passkey\u200e", "Pass\x07key"])
def test_a_name_that_folds_into_the_current_one_renames_nothing(user, password, typed):
    # The page's Rename button posts the name as shown (pressed without an edit), or what
    # folds into it once control characters go: no rename happened, so none is recorded.
    from audit.models import Event

    signed = password_client(user, password)
    passkey = add_passkey(signed)
    assert passkey.name == "Passkey"
    response = signed.post("/passkeys/", {"action": "rename", "passkey": str(passkey.pk),
                                          "name": typed})
    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages] == [
        "The passkey is named “Passkey”."]
    response = signed.patch(f"{API}passkeys/{passkey.pk}/", {"name": typed},
                            content_type="application/json")
    if typed.strip().isprintable():  # the API refuses control characters outright
        assert response.status_code == 200 and response.json()["name"] == "Passkey"
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"
    assert not Event.objects.filter(action="passkeys.renamed").exists()


@pytest.mark.parametrize("path", VERIFY_ENDPOINTS + ["passkeys/signup/", "passkeys/signup/options/"])
def test_a_key_given_twice_is_malformed(client, user, password, path, settings):
    """Which ``next`` (or credential id) would count depends on the parser reading it."""
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    body = b'{"credential": {}, "email": "a@example.com", "next": "/", "next": "//evil.example/"}'

    for browser in (client, password_client(user, password)):
        response = browser.generic("POST", API + path, body, content_type="application/json")
        assert envelope(response) in ({"malformed_request"} if browser is not client
                                      else {"malformed_request", "not_authenticated"})
    assert not Passkey.objects.exists()
