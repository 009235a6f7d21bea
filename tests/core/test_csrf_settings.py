"""CSRF as a project may configure it: the token kept in the session
(``CSRF_USE_SESSIONS``) or in a cookie of another name; an API client takes it from the
answer of ``GET csrf/`` either way."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import STRONG_PASSWORD

API = "/api/auth/v1/"
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("csrf", [{"CSRF_USE_SESSIONS": True},
                                  {"CSRF_COOKIE_NAME": "app_csrf", "CSRF_COOKIE_HTTPONLY": True},
                                  {"SESSION_COOKIE_NAME": "app_session_key"}])
def test_an_api_client_signs_in_and_out_with_the_token_of_csrf(settings, user, csrf):
    for name, value in csrf.items():
        setattr(settings, name, value)
    client = Client(enforce_csrf_checks=True)
    refused = client.post(API + "login/", {"email": user.email, "password": STRONG_PASSWORD},
                          content_type="application/json")
    assert refused.status_code == 403

    token = client.get(API + "csrf/").json()["detail"]
    response = client.post(API + "login/", {"email": user.email, "password": STRONG_PASSWORD},
                           content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.json()
    assert client.get(API + "session/").json()["authenticated"] is True

    # Signing in rotated the token (Django's login()): the new one is asked for again.
    token = client.get(API + "csrf/").json()["detail"]
    response = client.post(API + "logout/", content_type="application/json",
                           HTTP_X_CSRFTOKEN=token)
    assert response.status_code in (200, 204)
    assert client.get(API + "session/").json()["authenticated"] is False
