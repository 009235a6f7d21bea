"""URL settings a project may hold: APPEND_SLASH off, LOGIN_URL as a path or a URL name,
LOGIN_REDIRECT_URL as a URL name."""

from __future__ import annotations

import pytest

from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def test_without_append_slash_pages_and_the_api_answer_as_with_it(client, user, settings):
    settings.APPEND_SLASH = False

    assert client.get("/accounts/login").status_code == 404
    response = client.post("/api/auth/v1/login", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Not found. API paths end with a slash."
    response = client.post("/accounts/login/", {"email": user.email, "password": STRONG_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("login_url", ["/accounts/login/", "accounts:login"])
def test_login_url_as_a_path_or_a_name(client, user, settings, login_url):
    settings.LOGIN_URL = login_url
    settings.LOGIN_REDIRECT_URL = "accounts:sessions"

    response = client.get("/accounts/sessions/")
    assert response["Location"] == "/accounts/login/?next=/accounts/sessions/"
    response = client.post("/accounts/login/", {"email": user.email, "password": STRONG_PASSWORD})
    assert response["Location"] == "/accounts/sessions/"
