"""Rows in the tables of the suite's apps, written by the suite's own flows, for the tests
that migrate those apps back and forth over a database in use."""

from __future__ import annotations

import pyotp
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from accounts.flows.email import email_add_by_staff
from accounts.flows.password import password_change_require
from audit import chain
from tests.helpers import last_link, token_from
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import ORIGIN
from tests.passkeys.support import add_passkey as passkey_add

API = "/api/auth/v1/"
PASSWORD = "correct horse battery staple"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"


def api_post(client, path: str, data=None):
    return client.post(API + path, data or {}, content_type="application/json")


def write_rows() -> None:
    """A sign-up verified by its link, failed and successful sign-ins, an authenticator app
    with recovery codes and a trusted browser, a passkey, a passkey sign-up and sign-in
    links still waiting, an address unverified on two accounts, a rehashed password, a
    password change asked by staff, an alert turned off, and audit events, sealed and
    checkpointed and one still waiting for its seal."""
    email, other = "ann@example.com", "bob@example.com"
    signup = Client()
    assert signup.post("/accounts/signup/", {"email": email, "password": PASSWORD}
                       ).status_code == 302
    response = api_post(signup, "email/verify/", {"token": token_from(last_link(email)),
                                                  "password": PASSWORD})
    assert response.status_code == 200, response.content
    Client().post("/accounts/signup/", {"email": other, "password": PASSWORD})

    # A wrong password first: lockout counters, a failure event.
    Client().post("/accounts/login/", {"email": email, "password": "not the password"})
    browser = Client()
    response = api_post(browser, "login/", {"email": email, "password": PASSWORD})
    assert response.json()["status"] == "authenticated", response.content

    secret = api_post(browser, "mfa/totp/setup/").json()["secret"]
    response = api_post(browser, "mfa/totp/activate/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200, response.content
    recovery_code = response.json()["recovery_codes"][0]
    passkey_add(browser, SoftAuthenticator())
    browser.post(reverse("audit:alert_preferences"), {"form": "alerts"})  # every alert off

    # The second factor with a recovery code, trusting this browser.
    trusted = Client()
    trusted.post("/accounts/login/", {"email": email, "password": PASSWORD})
    response = trusted.post(reverse("mfa:challenge"), {"code": recovery_code,
                                                       "trust_browser": "on"})
    assert response.status_code == 302, response.content[:400]

    # A password stored by another hasher: the sign-in rehashes it and records the step.
    user = get_user_model()._default_manager.get(email=other)
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt", iterations=1000)
    user.save(update_fields=["password"])
    with override_settings(PASSWORD_HASHERS=[MD5, PBKDF2]):
        Client().post("/accounts/login/", {"email": other, "password": PASSWORD})
    password_change_require(None, user=user, by=None)
    # One address, unverified, on two accounts (anyone may type any address).
    response = api_post(browser, "emails/", {"email": "shared@example.com"})
    assert response.status_code == 202, response.content
    staff = RequestFactory().post("/admin/")
    staff.user = get_user_model()._default_manager.get(email=email)
    email_add_by_staff(staff, user=user, email="shared@example.com", verified=False)

    Client().post("/accounts/magic-link/", {"email": email})
    with override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True):
        Client().post("/passkeys/signup/", {"email": "cleo@example.com"}, HTTP_ORIGIN=ORIGIN)

    chain.seal_all()
    chain.checkpoint()
    # After the seal: an event still waiting for it, and lockout counters.
    Client().post("/accounts/login/", {"email": "nobody@example.com", "password": PASSWORD})
