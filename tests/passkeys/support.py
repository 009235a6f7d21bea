"""Helpers of the passkey tests: API calls driven by the software authenticator.

Every ceremony goes through the JSON API as a browser's page script would: options from
the server, the authenticator's answer in ``credential.toJSON()`` form, then verification.
"""

from __future__ import annotations

import re

from django.test import Client

from audit.models import Event
from passkeys.models import Passkey
from tests.passkeys.authenticator import SoftAuthenticator

API = "/api/auth/v1/"
ORIGIN = "http://localhost:8000"
AUTH_KEY = "_auth_user_id"
RECORD_KEY = "_authsuite_auth"
LOGIN_KEY = "_authsuite_login"
CHALLENGE_KEY = "_authsuite_webauthn"


def post(client, path: str, data=None, **extra):
    return client.post(API + path, data if data is not None else {},
                       content_type="application/json", **extra)


def get(client, path: str, **extra):
    return client.get(API + path, **extra)


def signup_reference(page) -> dict:
    """What the passkey sign-up page's script posts for its link: the page's reference to
    the link its session keeps (``data-link``), never the token."""
    found = re.search(rb'data-link="([^"]*)"', page.content)
    assert found, "the sign-up page has no link reference"
    return {"link": found.group(1).decode()}


def code(response) -> str:
    return response.json()["error"]["code"]


def signed_in(client) -> bool:
    """Ask the server, not the cookie jar."""
    return get(client, "session/").json()["authenticated"]


def auth_record(client) -> dict | None:
    return get(client, "session/").json()["auth"]


def password_client(user, password: str) -> Client:
    """A client signed in with the password just now (so reauthentication is recent)."""
    client = Client()
    response = post(client, "login/", {"email": user.email, "password": password})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authenticated", response.json()
    return client


def register_options(client) -> dict:
    response = post(client, "passkeys/register/options/")
    assert response.status_code == 200, response.content
    return response.json()


def register(client, authenticator: SoftAuthenticator, *, name: str = "", **create):
    """Run a registration; returns the verify response."""
    options = register_options(client)
    credential = authenticator.create(options, origin=create.pop("origin", ORIGIN), **create)
    return post(client, "passkeys/register/", {"credential": credential, "name": name})


def add_passkey(client, authenticator: SoftAuthenticator | None = None, **create) -> Passkey:
    authenticator = authenticator or SoftAuthenticator()
    response = register(client, authenticator, **create)
    assert response.status_code == 201, response.content
    return Passkey.objects.get(pk=response.json()["id"])


def login_options(client) -> dict:
    response = post(client, "passkeys/login/options/")
    assert response.status_code == 200, response.content
    return response.json()


def login(client, authenticator: SoftAuthenticator, **get_kwargs):
    """A usernameless sign-in; returns the verify response."""
    options = login_options(client)
    assertion = authenticator.get(options, origin=get_kwargs.pop("origin", ORIGIN), **get_kwargs)
    return post(client, "passkeys/login/", {"credential": assertion})


def actions(**filters) -> list[str]:
    return list(Event.objects.filter(**filters).order_by("pk").values_list("action", flat=True))


def failure_reasons() -> list[str]:
    import json

    return [json.loads(e.data).get("reason") for e in
            Event.objects.filter(action="passkeys.failed").order_by("pk")]
