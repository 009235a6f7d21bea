"""A failure of the server's own leaves as the rest of the errors do: the API's envelope
with a stable code, a page elsewhere; never a traceback, never cached."""

import pytest
from django.test import Client

from authsuite.api.errors import CoreError

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_failing")]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def test_api_failure_is_the_envelope_with_its_code(client):
    response = client.post("/api/auth/v1/failing/", "{}", content_type="application/json")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "server_error",
                                         "message": "Something went wrong.", "fields": {}}}
    assert "no-cache" in response["Cache-Control"]
    assert b"a bug" not in response.content


def test_server_error_is_one_of_the_stable_codes():
    assert CoreError("server_error") is CoreError.SERVER_ERROR


def test_schema_error_codes_list_it(client):
    schema = client.get("/api/auth/v1/schema/?format=json").json()

    body = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert "server_error" in body["properties"]["code"]["enum"]


def test_page_failure_is_a_page(client):
    response = client.get("/failing/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Server error" in response.content
    assert b"a bug" not in response.content
    assert "no-cache" in response["Cache-Control"]
