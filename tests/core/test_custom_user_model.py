"""A project's own user model, in an app of its own: the suite migrates after it, passes
its checks and signs people up and in by email (tests.settings_custom_user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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
