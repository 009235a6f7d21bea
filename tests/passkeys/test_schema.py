"""The passkey endpoints are in the OpenAPI schema the suite serves."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/auth/v1/passkeys/", "/api/auth/v1/passkeys/{id}/",
    "/api/auth/v1/passkeys/register/options/", "/api/auth/v1/passkeys/register/",
    "/api/auth/v1/passkeys/login/options/", "/api/auth/v1/passkeys/login/",
    "/api/auth/v1/passkeys/second-factor/options/", "/api/auth/v1/passkeys/second-factor/",
    "/api/auth/v1/passkeys/reauthenticate/options/", "/api/auth/v1/passkeys/reauthenticate/",
    "/api/auth/v1/passkeys/signup/", "/api/auth/v1/passkeys/signup/options/",
    "/api/auth/v1/passkeys/signup/complete/",
]


def test_every_passkey_endpoint_is_described(client):
    response = client.get("/api/auth/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    for path in PATHS:
        assert path in schema["paths"], path
    register = schema["paths"]["/api/auth/v1/passkeys/register/"]["post"]
    assert register["summary"] and "201" in register["responses"]
    body = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.rsplit("/", 1)[-1] in schema["components"]["schemas"]
    listing = schema["paths"]["/api/auth/v1/passkeys/"]["get"]["responses"]["200"]
    item = listing["content"]["application/json"]["schema"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][item]["properties"]) >= {
        "name", "provider", "created_at", "last_used_at", "backup_eligible", "backup_state"}
    login = schema["paths"]["/api/auth/v1/passkeys/login/"]["post"]
    assert "passkey_invalid" in login["description"]


def test_the_credential_is_documented_as_an_object_or_its_json_text(client):
    """What the verify endpoints take: ``credential.toJSON()``, or that as JSON text; null
    is a field error, and the schema does not admit it either."""
    schema = client.get("/api/auth/v1/schema/", {"format": "json"}).json()
    for path in ["register/", "login/", "second-factor/", "reauthenticate/", "signup/complete/"]:
        body = schema["paths"][f"/api/auth/v1/passkeys/{path}"]["post"]["requestBody"]
        name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        credential = schema["components"]["schemas"][name]["properties"]["credential"]
        assert {kind["type"] for kind in credential["oneOf"]} == {"object", "string"}, path
        assert not credential.get("nullable"), path
    response = client.post("/api/auth/v1/passkeys/login/", {"credential": None},
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "credential" in response.json()["error"]["fields"]


def _answer_properties(schema, path: str, status: str) -> set[str]:
    answer = schema["paths"][f"/api/auth/v1/passkeys/{path}"]["post"]["responses"][status]
    ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"][ref]["properties"])


def test_the_ceremonies_answers_are_described_for_a_generated_client(client):
    """A front end generated from the schema reads a passkey sign-in's answer as it reads the
    password's: ``status``, ``stage``, ``methods``, and the ``redirect`` the page script
    follows; a free-form object would leave it nothing to read."""
    schema = client.get("/api/auth/v1/schema/", {"format": "json"}).json()
    for path in ["login/", "second-factor/", "signup/complete/"]:
        assert _answer_properties(schema, path, "200") >= {
            "status", "stage", "url", "message", "methods", "redirect"}, path
    assert _answer_properties(schema, "reauthenticate/", "200") == {
        "auth_time", "amr", "acr", "redirect"}
    assert _answer_properties(schema, "signup/", "202") == {"detail"}
