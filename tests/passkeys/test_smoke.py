from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.passkeys.authenticator import EDDSA, ES256, SoftAuthenticator

pytestmark = pytest.mark.django_db
ORIGIN = "http://localhost:8000"


@pytest.fixture
def api(user, password):
    client = APIClient()
    client.post("/api/auth/v1/login/", {"email": user.email, "password": password},
                format="json")
    return client


@pytest.mark.parametrize("alg,attestation", [(ES256, "none"), (EDDSA, "packed")])
def test_register_then_passwordless_login(api, user, alg, attestation):
    authenticator = SoftAuthenticator()
    options = api.post("/api/auth/v1/passkeys/register/options/").json()
    credential = authenticator.create(options, origin=ORIGIN, alg=alg, attestation=attestation)
    response = api.post("/api/auth/v1/passkeys/register/", {"credential": credential},
                        format="json")
    assert response.status_code == 201, response.json()

    fresh = APIClient()
    options = fresh.post("/api/auth/v1/passkeys/login/options/").json()
    assert options["allowCredentials"] == []
    assertion = authenticator.get(options, origin=ORIGIN)
    response = fresh.post("/api/auth/v1/passkeys/login/", {"credential": assertion},
                          format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "authenticated"
    record = fresh.get("/api/auth/v1/session/").json()["auth"]
    assert record["amr"] == ["hwk", "mfa", "user"]
    assert record["acr"] == "urn:authsuite:acr:phr"

    # The same assertion cannot be replayed (its challenge is gone).
    again = fresh.post("/api/auth/v1/passkeys/login/", {"credential": assertion}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "passkey_challenge_missing"
