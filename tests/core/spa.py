"""A front end on the JSON API, as the journey tests drive it: a single-page or mobile app
with a browser's cookie jar, sending the CSRF token the API gave it, reading emailed links
for their token and never opening a page of the suite."""

from __future__ import annotations

import re

from django.test import Client, override_settings

from tests.conftest import STRONG_PASSWORD
from tests.helpers import outbox_for

API = "/api/auth/v1/"
APP = "https://app.example.com"
FRONTEND_URLS = {
    "magic_link": APP + "/sign-in/link/{token}",
    "verify_email": APP + "/verify/{token}",
    "password_reset": APP + "/password/reset/{token}",
    "passkey_signup": APP + "/passkey-signup/{token}",
    "reauthenticate": APP + "/confirm/{token}",
}
frontend = override_settings(AUTHSUITE_ACCOUNTS_FRONTEND_URLS=FRONTEND_URLS)


class App:
    """The front end: a browser's cookie jar and the CSRF token the API gave it."""

    def __init__(self, **headers):
        self.http = Client(enforce_csrf_checks=True, **headers)
        self.token = ""

    def csrf(self) -> str:
        response = self.get("csrf/")
        assert response.status_code == 200
        self.token = response.json()["detail"]
        assert self.token
        return self.token

    def get(self, path: str, **extra):
        return self.http.get(API + path, **extra)

    def _send(self, method: str, path: str, data=None, **extra):
        send = getattr(self.http, method)
        return send(API + path, data if data is not None else {},
                    content_type="application/json", HTTP_X_CSRFTOKEN=self.token, **extra)

    def post(self, path: str, data=None, **extra):
        return self._send("post", path, data, **extra)

    def patch(self, path: str, data=None, **extra):
        return self._send("patch", path, data, **extra)

    def delete(self, path: str, **extra):
        return self.http.delete(API + path, HTTP_X_CSRFTOKEN=self.token, **extra)

    def session(self) -> dict:
        response = self.get("session/")
        assert response.status_code == 200
        return response.json()


def refused(response, status: int, code: str) -> dict:
    """The error envelope of a refusal: its status, code and a message for a person."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def mailed_token(email: str, prefix: str) -> str:
    """The token of the last front-end link mailed to ``email``."""
    message = outbox_for(email)[-1]
    found = re.findall(re.escape(APP + prefix) + r"([A-Za-z0-9_-]+)", message.body)
    assert found, message.body
    assert "/accounts/" not in message.body  # no link to the suite's own pages
    return found[0]


def signed_in_app(user, password=STRONG_PASSWORD, **data) -> App:
    app = App()
    app.csrf()
    response = app.post("login/", {"email": user.email, "password": password, **data})
    assert response.json() == {"status": "authenticated"}, response.content
    app.csrf()  # the token changes at sign-in
    return app
