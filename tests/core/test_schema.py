"""The OpenAPI schema documents the error envelope and the error responses of every
operation, with every stable code of the installed apps."""

from __future__ import annotations

import json
import re

import pytest
from django.utils import translation

from authsuite.api.schema import error_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/auth/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_error_component_lists_the_codes_of_every_app(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = error["properties"]["error"]
    assert set(body["required"]) == {"code", "message"}
    codes = body["properties"]["code"]["enum"]
    assert codes == error_codes()
    # the core's, and one of each app's own
    assert {"malformed_request", "rate_limited", "csrf_failed", "invalid_credentials",
            "account_locked", "mfa_locked", "passkey_invalid"} <= set(codes)
    assert len(codes) == len(set(codes))


def test_every_operation_documents_its_error_responses(schema):
    ref = {"$ref": "#/components/schemas/Error"}
    operations = [(path, method, operation) for path, methods in schema["paths"].items()
                  for method, operation in methods.items()
                  if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) > 40
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"400", "403", "406", "429", "500"} | ({"413", "415"} if method != "get"
                                                          else set())
        assert expected <= set(responses), (path, method)
        for status in expected:
            content = responses[status]["content"]["application/json"]["schema"]
            assert content == ref, (path, method, status)
        assert "Retry-After" in responses["429"]["headers"]
        # the success a view documents is left as it is
        assert any(status.startswith("2") for status in responses), (path, method)


def test_an_error_the_api_returns_matches_the_documented_envelope(client, schema):
    response = client.post("/api/auth/v1/login/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] in schema["components"]["schemas"]["Error"]["properties"][
        "error"]["properties"]["code"]["enum"]
    assert set(body["error"]) <= {"code", "message", "fields"}


# (path, method, status, code): what an operation answers on its own, besides the common ones.
OWN_ERRORS = [
    ("/api/auth/v1/emails/{id}/", "delete", "404", "email_not_found"),
    ("/api/auth/v1/emails/{id}/primary/", "post", "404", "email_not_found"),
    ("/api/auth/v1/emails/{id}/primary/", "post", "409", "email_in_use"),
    ("/api/auth/v1/emails/{id}/resend/", "post", "404", "email_not_found"),
    ("/api/auth/v1/emails/{id}/resend/", "post", "409", "email_already_verified"),
    ("/api/auth/v1/email/verify/", "post", "409", "email_in_use"),
    ("/api/auth/v1/sessions/{id}/", "delete", "404", "session_not_found"),
    ("/api/auth/v1/password/required/", "post", "409", "no_login_pending"),
    # Every operation that sets a new password, when the breach check cannot be made.
    ("/api/auth/v1/signup/", "post", "503", "password_check_unavailable"),
    ("/api/auth/v1/password/change/", "post", "503", "password_check_unavailable"),
    ("/api/auth/v1/password/reset/confirm/", "post", "503", "password_check_unavailable"),
    ("/api/auth/v1/password/required/", "post", "503", "password_check_unavailable"),
    ("/api/auth/v1/reauthenticate/link/", "post", "409", "use_password"),
    ("/api/auth/v1/mfa/challenge/", "post", "409", "no_login_pending"),
    ("/api/auth/v1/mfa/trusted-browsers/{id}/", "delete", "404", "mfa_trusted_browser_not_found"),
    ("/api/auth/v1/passkeys/{id}/", "patch", "404", "passkey_not_found"),
    ("/api/auth/v1/passkeys/{id}/", "delete", "404", "passkey_not_found"),
    ("/api/auth/v1/passkeys/second-factor/options/", "post", "409", "no_login_pending"),
    ("/api/auth/v1/passkeys/second-factor/", "post", "409", "no_login_pending"),
]


@pytest.mark.parametrize("path, method, status, code", OWN_ERRORS)
def test_operations_document_their_own_errors_in_the_envelope(schema, path, method, status, code):
    response = schema["paths"][path][method]["responses"][status]
    assert f"`{code}`" in response["description"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize("path, method, status, codes", [
    ("/api/auth/v1/login/", "post", "400", ["invalid", "malformed_request",
                                            "invalid_credentials"]),
    ("/api/auth/v1/login/", "post", "403", ["csrf_failed", "password_blocked"]),
    ("/api/auth/v1/login/", "post", "429", ["rate_limited", "account_locked"]),
    # The view's own 400 used to stand instead of the common one.
    ("/api/auth/v1/emails/", "post", "400", ["malformed_request", "email_already_added",
                                             "email_mixed_script"]),
    ("/api/auth/v1/mfa/challenge/", "post", "429", ["rate_limited", "mfa_throttled",
                                                    "mfa_locked"]),
    ("/api/auth/v1/passkeys/{id}/", "delete", "404", ["passkey_not_found", "not_found"]),
    ("/api/auth/v1/session/", "get", "500", ["server_error"]),
])
def test_an_operations_own_codes_come_with_the_common_ones(schema, path, method, status, codes):
    """A view that names its flows' codes for a status every operation has (400, 403, 429)
    adds them to the common codes of that status: it does not replace them."""
    response = schema["paths"][path][method]["responses"][status]
    for code in codes:
        assert f"`{code}`" in response["description"], (path, method, status, code)
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    if status == "429":
        assert response["headers"]["Retry-After"]["required"] is True


def test_every_operation_on_one_object_documents_its_404(schema):
    on_one = [(path, method) for path, methods in schema["paths"].items() if "{" in path
              for method in methods if method in {"get", "post", "put", "patch", "delete"}]
    assert len(on_one) >= 6
    for path, method in on_one:
        assert "404" in schema["paths"][path][method]["responses"], (path, method)


@pytest.mark.parametrize("body, content_type, status, code", [
    ("{not json", "application/json", 400, "malformed_request"),
    ("a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
])
def test_a_delete_with_a_bad_body_is_refused_as_documented(client, user, body, content_type,
                                                            status, code):
    client.force_login(user)
    response = client.delete("/api/auth/v1/sessions/1/", data=body, content_type=content_type)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize("path", ["session/", "csrf/", "emails/", "security/events/"])
def test_a_read_the_api_cannot_read_is_the_documented_400(client, user, schema, path):
    """A GET whose Content-Type names another charset than UTF-8 is refused before any view
    (``authsuite.context.unreadable``): the operation documents that 400 too."""
    client.force_login(user)
    response = client.get(f"/api/auth/v1/{path}", CONTENT_TYPE="text/plain; charset=utf-7")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_request")
    documented = schema["paths"][f"/api/auth/v1/{path}"]["get"]["responses"]["400"]
    assert "`malformed_request`" in documented["description"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}


def test_an_operation_is_described_by_its_own_view_only(schema):
    """Not by the base classes' docstrings: those are notes for whoever writes a view."""
    from authsuite.api.views import SuiteAPIView

    base = SuiteAPIView.__doc__.strip().splitlines()[0]
    operations = {(path, method): operation for path, methods in schema["paths"].items()
                  for method, operation in methods.items()}
    for (path, method), operation in operations.items():
        assert base not in operation.get("description", ""), (path, method)
    # A view's own docstring, and a description given in extend_schema, are kept.
    assert operations[("/api/auth/v1/mfa/", "get")]["description"].startswith(
        "The signed-in user's second factors")
    assert operations[("/api/auth/v1/sessions/{id}/", "delete")]["description"].startswith(
        "Ending a session other than this one")
    assert "description" not in operations[("/api/auth/v1/login/", "post")]
    assert operations[("/api/auth/v1/login/", "post")]["summary"]


def _body_component(schema, operation) -> dict | None:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return None
    return schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[-1]]


def test_text_fields_that_refuse_blank_input_say_so(schema, user, password):
    """Every text field of a request body that answers "" with a field error has
    ``minLength: 1``, and no other: the schema admits the requests the API takes."""
    from rest_framework.test import APIClient

    from passkeys.models import Passkey

    client = APIClient()
    client.force_login(user)
    assert client.post("/api/auth/v1/reauthenticate/", {"password": password},
                       format="json").status_code == 200
    # On one object last: the passkey a rename needs makes a second factor due.
    operations = sorted(((path, method, operation) for path, methods in schema["paths"].items()
                         for method, operation in methods.items()),
                        key=lambda item: "{id}" in item[0])
    checked = 0
    for path, method, operation in operations:
        component = _body_component(schema, operation)
        if component is None:
            continue
        if "{id}" in path:
            assert path == "/api/auth/v1/passkeys/{id}/"
            passkey = Passkey.objects.create(user=user, credential_id="AAAA",
                                             public_key=b"\x00", name="Key")
            path = path.replace("{id}", str(passkey.pk))
        texts = {name for name, field in component["properties"].items()
                 if field.get("type") == "string"}
        response = client.generic(method.upper(), path, json.dumps(dict.fromkeys(texts, "")),
                                  content_type="application/json")
        assert response.status_code == 400, (path, method, response.content)
        fields = response.json()["error"]["fields"]
        refused = {name for name in texts
                   if "This field may not be blank." in fields.get(name, [])}
        documented = {name for name in texts
                      if component["properties"][name].get("minLength") == 1}
        assert refused == documented, (path, method)
        checked += len(refused)
    assert checked >= 20


@pytest.fixture
def builds(monkeypatch):
    """How many times the document is built from the code (the schema view's generator)."""
    from authsuite import suite_urls

    count = []
    generator = suite_urls.SchemaView.generator_class

    class Counted(generator):
        def get_schema(self, *args, **kwargs):
            count.append(1)
            return super().get_schema(*args, **kwargs)

    monkeypatch.setattr(suite_urls.SchemaView, "generator_class", Counted)
    monkeypatch.setattr(suite_urls, "_documents", {})
    return count


def test_the_document_is_built_once_per_language_and_format(client, builds):
    first = client.get("/api/auth/v1/schema/", {"format": "json"})
    again = client.get("/api/auth/v1/schema/", {"format": "json"})
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and len(builds) == 1
    assert first["Content-Type"] == "application/vnd.oai.openapi+json"
    assert first["Cache-Control"].startswith("max-age=0") or "no-store" in first["Cache-Control"]
    assert 'filename="authsuite API (1).json"' in first["Content-Disposition"]

    yaml = client.get("/api/auth/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi: 3")
    assert yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert len(builds) == 2
    client.get("/api/auth/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert len(builds) == 2


def test_the_document_is_in_the_sites_language_whatever_a_request_names(client, builds):
    from authsuite import suite_urls

    for lang in ["zz", "x" * 300, "en-us", "de\u202eevil", "", "EN"]:
        response = client.get("/api/auth/v1/schema/", {"format": "json", "lang": lang},
                              HTTP_ACCEPT_LANGUAGE=lang[:50].encode("ascii", "ignore").decode())
        assert response.status_code == 200
    assert len(suite_urls._documents) == 1
    assert len(builds) == 1
    with translation.override("de"):  # what a request's Accept-Language could activate
        assert client.get("/api/auth/v1/schema/", {"format": "json"}).status_code == 200
    assert len(builds) == 1


def test_a_change_of_settings_builds_the_document_afresh(client, builds, settings):
    client.get("/api/auth/v1/schema/", {"format": "json"})
    settings.SPECTACULAR_SETTINGS = {**settings.SPECTACULAR_SETTINGS, "TITLE": "Renamed API"}
    assert client.get("/api/auth/v1/schema/", {"format": "json"}).status_code == 200
    assert len(builds) == 2


@pytest.mark.parametrize(("path", "formats"), [("schema/", "json, yaml"), ("docs/", "html")])
def test_a_format_a_document_has_not_is_not_acceptable_and_says_which_it_has(client, path,
                                                                             formats):
    response = client.get(f"/api/auth/v1/{path}?format=xml")

    assert response.status_code == 406
    assert response.json()["error"] == {
        "code": "not_acceptable", "fields": {},
        "message": f"The format parameter names a format this API does not answer in: "
                   f"only {formats}."}


def _property(schema, path, method, name) -> dict:
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]["properties"][name]


@pytest.mark.parametrize("path, body, name", [
    ("/api/auth/v1/signup/", {"email": "ann@example.com", "password": "correct horse battery "
                              "staple", "name": "Ann\u202eLee"}, "name"),
    ("/api/auth/v1/passkeys/signup/", {"email": "ann@example.com", "name": "Ann\x07Lee"}, "name"),
    ("/api/auth/v1/mfa/challenge/", {"code": "123\x00456"}, "code"),
    ("/api/auth/v1/passkeys/login/", {"credential": {}, "next": "/acc\x85ount/"}, "next"),
])
def test_text_that_may_hold_no_control_character_says_so(client, schema, path, body, name):
    """A name, a code or a next refuses control characters (C0, C1, DEL and the bidi
    controls): the schema's ``pattern`` for the field refuses them too, and nothing else."""
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "control character" in response.json()["error"]["fields"][name][0]

    documented = _property(schema, path, "post", name)
    # A field that may be blank is documented as oneOf the pattern and "": "" matches one.
    documented, *blank = documented.get("oneOf", [documented])
    assert blank in ([], [{"type": "string", "maxLength": 0}])
    pattern = re.compile(documented["pattern"])
    assert not pattern.search("")
    assert not pattern.search(body[name])
    assert pattern.search("".join(c for c in body[name] if c.isprintable()))
    assert pattern.search("Zoë Ångström-Łukasiewicz 日本 😀")


def test_a_password_may_hold_any_character(schema):
    for path, name in [("/api/auth/v1/signup/", "password"), ("/api/auth/v1/login/", "password"),
                       ("/api/auth/v1/password/change/", "new_password")]:
        assert "pattern" not in _property(schema, path, "post", name), path


def test_every_429_documents_its_retry_after_as_always_sent(client, schema):
    """Each refusal for too many attempts says how long to wait (rate limits, lockouts, the
    second factor's back-off): the schema promises the header, so a client may rely on it."""
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            header = operation["responses"]["429"]["headers"]["Retry-After"]
            assert header["required"] is True, (path, method)
            assert header["schema"] == {"type": "integer"}

    for _ in range(100):
        response = client.post("/api/auth/v1/password/reset/", {"email": "ann@example.com"},
                               content_type="application/json")
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


def test_every_unsafe_operation_documents_the_csrf_header(client, schema, user, settings):
    """POST, PATCH and DELETE carry the CSRF token in a header, signed in or not: the schema
    says so, and a request without it is refused as documented."""
    from django.test import Client

    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
            if method == "get":
                assert "X-CSRFToken" not in headers, path
                continue
            assert headers["X-CSRFToken"]["required"] is True, (path, method)
            assert headers["X-CSRFToken"]["schema"]["type"] == "string"

    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/api/auth/v1/csrf/").json()["detail"]
    body = {"email": user.email, "password": "not the password at all"}
    without = browser.post("/api/auth/v1/login/", body, content_type="application/json")
    assert (without.status_code, without.json()["error"]["code"]) == (403, "csrf_failed")
    header = browser.post("/api/auth/v1/login/", body, content_type="application/json",
                          HTTP_X_CSRFTOKEN=token)
    assert header.json()["error"]["code"] == "invalid_credentials"

    settings.CSRF_HEADER_NAME = "HTTP_X_XSRF_TOKEN"
    renamed = client.get("/api/auth/v1/schema/", {"format": "json"}).json()
    parameters = renamed["paths"]["/api/auth/v1/login/"]["post"]["parameters"]
    assert [p["name"] for p in parameters if p["in"] == "header"] == ["X-Xsrf-Token"]


def test_refusals_do_not_look_for_the_apps_error_codes_each_time(client, monkeypatch):
    """The API's error handler asks which codes are the apps' own on every refusal with
    field errors; they are found once, not by importing each app's ``errors`` module (and
    failing, for the apps that have none) on each request."""
    from authsuite.api import schema as schema_module

    imported = []
    real = schema_module.import_module
    monkeypatch.setattr(schema_module, "import_module",
                        lambda name: imported.append(name) or real(name))
    for _ in range(3):
        response = client.post("/api/auth/v1/signup/", {"email": "not an address"},
                               content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["fields"]
    assert len(set(imported)) == len(imported)  # each app's module looked for once at most


def test_an_app_installed_later_brings_its_codes(settings):
    from django.apps import apps

    assert "mfa_locked" in error_codes()
    settings.INSTALLED_APPS = [name for name in settings.INSTALLED_APPS if name != "mfa"]
    assert not apps.is_installed("mfa")
    assert "mfa_locked" not in error_codes()
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "mfa"]
    assert "mfa_locked" in error_codes()
