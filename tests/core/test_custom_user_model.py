"""A project's own user model, in an app of its own: the suite migrates after it, passes
its checks and signs people up and in by email (tests.settings_custom_user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A process of its own on settings of its own: the run on auth.User would repeat it as is.
pytestmark = pytest.mark.own_settings

FLOW = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client

password = "correct horse battery staple"
signup = Client().post("/accounts/signup/", {"email": "Ann@Example.com", "password": password})
browser = Client()
login = browser.post("/accounts/login/", {"email": "ann@example.com", "password": password})
user = get_user_model().objects.get(email="ann@example.com")
print(json.dumps({
    "model": get_user_model()._meta.label, "signup": signup.status_code,
    "login": login.status_code, "signed_in_as": browser.session.get("_auth_user_id"),
    "pk": str(user.pk), "username": user.username,
    "addresses": list(user.email_addresses.values_list("email", "primary", "verified")),
}))
"""


def run(args, env) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_project_user_model_in_its_own_app(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_custom_user",
           "CUSTOM_USER_DB": str(tmp_path / "db.sqlite3")}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"):
        env.pop(name, None)

    run([sys.executable, "manage.py", "migrate", "-v0"], env)  # the user table comes first
    run([sys.executable, "manage.py", "check", "--fail-level", "ERROR"], env)
    result = json.loads(run([sys.executable, "-c", FLOW], env).strip().splitlines()[-1])

    assert result["model"] == "custom_user.Member"
    assert (result["signup"], result["login"]) == (302, 302)
    assert result["signed_in_as"] == result["pk"]
    assert result["username"] == "ann@example.com"
    assert result["addresses"] == [["ann@example.com", True, True]]


MINIMAL_FLOW = """
import json
import django
django.setup()
import authsuite.celery  # the Celery app, as a project's __init__ would load it: eager here
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import Client
from django.test.utils import override_settings
from tests.helpers import last_link, link_form, open_link

password, changed, reset = ("correct horse battery staple", "a brand new passphrase here",
                            "the passphrase after a reset")
steps = {}
steps["signup"] = Client().post("/accounts/signup/", {"email": "ann@example.com",
                                                      "password": password}).status_code
browser = Client()
steps["login"] = browser.post("/accounts/login/", {"email": "ann@example.com",
                                                   "password": password}).status_code
steps["password_change"] = browser.post("/accounts/password/change/", {
    "current_password": password, "new_password": changed,
    "new_password_confirm": changed}).status_code
phone = Client()
phone.post("/accounts/magic-link/", {"email": "ann@example.com"})
page, url = open_link(phone, last_link("ann@example.com"))
steps["magic_link"] = phone.post(url, link_form(page)).status_code
steps["magic_link_signed_in"] = "_auth_user_id" in phone.session
Client().post("/accounts/password/reset/", {"email": "ann@example.com"})
stranger = Client()
page, url = open_link(stranger, last_link("ann@example.com"))
steps["reset"] = stranger.post(url, link_form(page, new_password=reset,
                                              new_password_confirm=reset)).status_code
steps["login_after_reset"] = Client().post("/accounts/login/", {
    "email": "ann@example.com", "password": reset}).status_code
closing = Client()
closing.post("/accounts/login/", {"email": "ann@example.com", "password": reset})
steps["close"] = closing.post("/accounts/close/", {"confirm": "on"}).status_code
steps["users_left"] = get_user_model().objects.count()
with override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True):
    from tests.passkeys.authenticator import SoftAuthenticator
    from tests.passkeys.support import ORIGIN, post

    newcomer = Client()
    post(newcomer, "passkeys/signup/", {"email": "bo@example.com"})
    token = last_link("bo@example.com").rstrip("/").rsplit("/", 1)[-1]
    options = post(newcomer, "passkeys/signup/options/", {"token": token}).json()
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    steps["passkey_signup"] = post(newcomer, "passkeys/signup/complete/", {
        "token": token, "credential": credential}).json().get("status")
with override_settings(AUTHSUITE_ACCOUNTS_CLOSE_ACTION="deactivate",
                       AUTHSUITE_PASSKEYS_SIGNUP=True):
    steps["checks"] = sorted(e.id for e in checks.run_checks() if e.level >= checks.ERROR)
print(json.dumps(steps))
"""


def test_the_smallest_user_model_django_allows(tmp_path):
    # AbstractBaseUser and an email: is_active is a constant, not a column.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_minimal_user",
           "CUSTOM_USER_DB": str(tmp_path / "db.sqlite3")}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL"):
        env.pop(name, None)

    run([sys.executable, "manage.py", "migrate", "-v0"], env)
    run([sys.executable, "manage.py", "check", "--fail-level", "ERROR"], env)
    steps = json.loads(run([sys.executable, "-c", MINIMAL_FLOW], env).strip().splitlines()[-1])

    assert steps == {
        "signup": 302, "login": 302, "password_change": 302, "magic_link": 302,
        "magic_link_signed_in": True, "reset": 302, "login_after_reset": 302, "close": 302,
        "users_left": 0, "passkey_signup": "authenticated",
        # What needs a user kept inactive says so, instead of failing later.
        "checks": ["authsuite_accounts.E011"],
    }


MINIMAL_ADMIN = """
import json
import django
django.setup()
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from accounts.admin import adopt_user_admin, deactivate, reactivate
from accounts.users import stores_is_active


class PersonAdmin(admin.ModelAdmin):
    pass


class Staff:
    # The model has no permissions of its own (no PermissionsMixin): a superuser stand-in.
    pk = 0
    is_active = is_staff = is_superuser = is_authenticated = True

    def has_perm(self, perm, obj=None):
        return True


site = admin.AdminSite(name="project")
site.register(get_user_model(), PersonAdmin)
adopt_user_admin(site)  # as a project's own admin for its own model is adopted
model_admin = site._registry[get_user_model()]
said = []
model_admin.message_user = lambda request, message, level=messages.INFO, **kwargs: said.append(
    [str(message), level])
request = RequestFactory().get("/admin/")
request.user = Staff()
steps = {"stores_is_active": stores_is_active(),
         "actions": sorted(model_admin.get_actions(request)),
         "choices": sorted(name for name, _label in model_admin.get_action_choices(request))}
# Called anyway (a project's own code, a stale form): refused with a reason, nothing read.
for action in (deactivate, reactivate):
    action(model_admin, request, get_user_model().objects.none())
steps["said"] = said
print(json.dumps(steps))
"""


def test_the_admin_offers_no_deactivate_or_reactivate_without_is_active():
    # AbstractBaseUser's is_active is a constant True: there is nowhere to keep an account
    # disabled, so the actions that would are neither offered nor carried out.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_minimal_user"}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL",
                 "CUSTOM_USER_DB"):
        env.pop(name, None)  # an in-memory database: nothing here reads a table

    steps = json.loads(run([sys.executable, "-c", MINIMAL_ADMIN], env).strip().splitlines()[-1])

    assert steps["stores_is_active"] is False
    assert [c for c in steps["choices"] if c] == steps["actions"]  # the list staff see
    offered = set(steps["actions"])
    assert not offered & {"deactivate", "reactivate"}
    assert {"send_password_reset", "end_all_sessions", "unlock",
            "require_password_change"} <= offered
    refusal = "This user model cannot keep users inactive: it has no is_active field."
    assert steps["said"] == [[refusal, 40], [refusal, 40]]  # messages.ERROR, once each
