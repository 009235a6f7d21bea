"""The OpenAPI schema documents the error envelope and the error responses of every
operation, with every stable code of the installed apps."""

from __future__ import annotations

import pytest

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
        expected = {"403", "429"} | ({"400", "413", "415"} if method in {"post", "put", "patch"}
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
