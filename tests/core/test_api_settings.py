"""The API is the same whatever the project's REST_FRAMEWORK says: JSON only, errors in the
envelope, the session cookie as the only credential, anonymous flows open."""

from __future__ import annotations

import base64

import pytest
from django.test import Client, override_settings

from tests.conftest import STRONG_PASSWORD

API = "/api/auth/v1/"

PROJECT_REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.BrowsableAPIRenderer",
                                 "rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project_rest_framework")]


@pytest.fixture
def project_rest_framework():
    with override_settings(REST_FRAMEWORK=PROJECT_REST_FRAMEWORK):
        yield


def test_an_html_answer_is_not_acceptable(client):
    response = client.get(API + "session/", HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_anonymous_flows_stay_open_and_answer_json(client, user):
    response = client.post(API + "login/", {"email": user.email, "password": STRONG_PASSWORD},
                           content_type="application/json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authenticated"


def test_errors_come_in_the_envelope(client):
    response = client.get(API + "sessions/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_authenticated"


def test_basic_authentication_is_no_way_in(user):
    credentials = base64.b64encode(f"{user.email}:{STRONG_PASSWORD}".encode()).decode()

    response = Client().get(API + "sessions/", HTTP_AUTHORIZATION=f"Basic {credentials}")

    assert response.status_code == 403


def test_a_form_body_is_still_refused(client):
    response = client.post(API + "login/", {"email": "a@example.com", "password": "x"})

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_the_schema_still_answers_its_errors_in_the_envelope(client):
    response = client.post(API + "schema/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_options_answers_the_allowed_methods_as_json(client):
    response = client.options(API + "login/")

    assert response.status_code == 200
    assert response["Allow"] == "POST, OPTIONS"
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"name", "description", "renders", "parses"}
    assert response.json()["renders"] == response.json()["parses"] == ["application/json"]


def test_options_checks_what_the_endpoint_checks(client):
    response = client.options(API + "emails/")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_authenticated"


def test_options_on_the_schema_is_refused_in_the_envelope(client):
    response = client.options(API + "schema/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("body", ['{"email": NaN, "password": "x"}',
                                  '{"email": "ann@example.com", "password": Infinity}'])
def test_nan_and_infinity_are_malformed_whatever_strict_json_says(client, monkeypatch, body):
    """DRF's parser reads STRICT_JSON once, at import: a project with ``"STRICT_JSON":
    False`` had the API take NaN and Infinity as numbers (as the parser's ``strict``)."""
    from rest_framework import parsers

    monkeypatch.setattr(parsers.JSONParser, "strict", False)

    response = client.post(API + "login/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"



SERVED = """
import django, json
django.setup()
from django.test import Client
client = Client()
schema = client.get("/api/auth/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
docs = client.get("/api/auth/v1/docs/")
print(json.dumps({"schema": schema.status_code, "docs": docs.status_code,
                  "paths": sorted(json.loads(schema.content)["paths"])
                  if schema.status_code == 200 else []}))
"""


def test_the_schema_and_its_docs_are_served_in_a_project_naming_no_schema_class():
    # drf-spectacular annotates views on REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS as it stands
    # when their modules are imported; a project naming none (DRF's own AutoSchema then)
    # had the document fail (a 500). A process of its own: imported under those settings.
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_no_rest_framework"}
    done = subprocess.run([sys.executable, "-c", SERVED], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert (served["schema"], served["docs"]) == (200, 200)
    assert API + "login/" in served["paths"] and API + "sessions/" in served["paths"]
    assert not {API + "schema/", API + "docs/"} & set(served["paths"])
