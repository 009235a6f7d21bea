"""The check every test's API answers go through (``tests.core.schema_conformance``): it
refuses what the schema does not describe, and leaves alone what the schema has no
operation for."""

from __future__ import annotations

import pytest
from django.http import HttpResponse, JsonResponse

from tests.core.schema_conformance import SchemaMismatch, check

pytestmark = pytest.mark.django_db

API = "/api/auth/v1/"
SESSION = {"authenticated": True, "user": {"id": "1", "email": "ann@example.com", "name": ""},
           "auth": {"auth_time": 1750000000, "amr": ["pwd"], "acr": "1"}, "pending_stage": None}


def answer(method: str, path: str, body=None, status: int = 200, **headers):
    response = (HttpResponse(status=status) if body is None
                else JsonResponse(body, status=status, safe=False))
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    response.request = {"REQUEST_METHOD": method, "PATH_INFO": API + path}
    return response


def envelope(code: str) -> dict:
    return {"error": {"code": code, "message": "Refused.", "fields": {}}}


def test_what_the_schema_describes_passes(client, user):
    check(answer("GET", "session/", SESSION))
    check(answer("GET", "session/", {**SESSION, "authenticated": False, "user": None,
                                     "auth": None, "pending_stage": "mfa"}))
    check(answer("DELETE", "sessions/12/", status=204))
    check(answer("POST", "login/", envelope("account_locked"), 429, Retry_After="60"))
    check(answer("DELETE", "passkeys/3/", envelope("not_found"), 404))
    # And what the API really answers, through the test client (checked there too).
    client.force_login(user)
    assert client.get(API + "sessions/").status_code == 200


@pytest.mark.parametrize("response, why", [
    (answer("GET", "session/", SESSION, 418), "a status the schema does not document"),
    (answer("GET", "session/", {k: v for k, v in SESSION.items() if k != "auth"}),
     "'auth' is a required property"),
    (answer("GET", "session/", {**SESSION, "authenticated": "yes"}), "is not of type 'boolean'"),
    (answer("GET", "session/", {**SESSION, "user": {**SESSION["user"], "name": None}}),
     "None is not of type 'string'"),
    (answer("GET", "session/", {**SESSION, "mfa": True}), "('mfa' was unexpected)"),
    (answer("GET", "session/", {**SESSION, "auth": {**SESSION["auth"], "proven": {}}}),
     "('proven' was unexpected)"),
    (answer("GET", "security/events/", [{"id": 1, "occurred_at": "yesterday", "action": "a",
                                         "label": "A", "outcome": "ok", "ip": None, "device": "",
                                         "method": None, "by": "you"}]),
     "'yesterday' is not a 'date-time'"),
    (answer("GET", "security/events/", [{"id": 1, "occurred_at": "2026-01-01T00:00:00Z",
                                         "action": "a", "label": "A", "outcome": "ok",
                                         "ip": None, "device": "", "method": None,
                                         "by": "someone"}]),
     "'someone' is not one of"),
    (answer("POST", "login/", envelope("no_such_code"), 400), "'no_such_code' is not one of"),
    (answer("POST", "login/", envelope("token_invalid"), 400),
     "the code `token_invalid`, which the operation does not name"),
    (answer("POST", "login/", envelope("rate_limited"), 429),
     "without the Retry-After header"),
    (answer("DELETE", "sessions/12/", {"detail": "Ended."}, 204),
     "with a body where the schema documents none"),
    (answer("GET", "sessions/", "<html></html>"), "is not of type 'array'"),
])
def test_what_the_schema_does_not_describe_fails(response, why):
    with pytest.raises(SchemaMismatch) as failure:
        check(response)
    assert why in str(failure.value)


@pytest.mark.parametrize("method, path, status", [
    ("GET", "no-such-endpoint/", 404),     # no operation has the path
    ("DELETE", "sessions/end-all/", 405),  # a literal path, not sessions/{id}/
    ("PUT", "login/", 405),                # no operation for the method
    ("HEAD", "session/", 200),
    ("OPTIONS", "login/", 200),
    ("GET", "schema/", 200),               # the document itself
])
def test_a_request_the_schema_has_no_operation_for_is_left_alone(method, path, status):
    check(answer(method, path, {"anything": True}, status))


def test_the_document_read_follows_the_settings(settings, client, user):
    """The rules in force are in the schema: a rule a project adds is listed once the
    settings change, as the server builds the document again."""
    from audit import alerts

    rules = [*settings.AUTHSUITE_AUDIT_ALERT_RULES] if hasattr(
        settings, "AUTHSUITE_AUDIT_ALERT_RULES") else [rule.name for rule in alerts.rules()]
    preference = {"rule": rules[0], "subject": "S", "critical": False, "enabled": True}
    check(answer("GET", "security/alerts/", [preference]))
    with pytest.raises(SchemaMismatch):
        check(answer("GET", "security/alerts/", [{**preference, "rule": "project.Rule"}]))
    settings.AUTHSUITE_AUDIT_ALERT_RULES = rules[1:]
    with pytest.raises(SchemaMismatch):
        check(answer("GET", "security/alerts/", [preference]))
