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
