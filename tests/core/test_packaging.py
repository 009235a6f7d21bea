"""The distribution a project installs (django-authsuite) holds every file the apps need at run
time, and nothing of the checkout's own: built as pip builds it, an sdist first, then the
wheel's files from the sdist (``build_py``, the step of ``bdist_wheel`` that chooses them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from importlib import import_module
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["authsuite", "accounts", "mfa", "passkeys", "audit"]
# What a working tree holds besides the sources: none of it goes into a build.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", "*.egg-info", "build",
                                     ".pytest_cache", ".ruff_cache", "var", "staticfiles", "test-results")


def run(*args: str, cwd: Path, **env: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=120, env={**os.environ, **env})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the sdist's member names, the directory of the wheel's files)."""
    work = tmp_path_factory.mktemp("dist")
    source = work / "checkout"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    # What a developer's tree may hold that must stay out: the demo's database, collected
    # static files.
    (source / "var").mkdir(exist_ok=True)
    (source / "var" / "demo.sqlite3").write_bytes(b"")
    (source / "staticfiles").mkdir(exist_ok=True)
    name = run("-c", "import sys; from setuptools import build_meta as b; "
                     "print(b.build_sdist(sys.argv[1]))", str(work), cwd=source).split()[-1]
    with tarfile.open(work / name) as sdist:
        members = sdist.getnames()
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        sdist.extractall(work / "sdist", **safe)
    unpacked = work / "sdist" / members[0].split("/")[0]
    run("-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib",
        str(work / "wheel"), cwd=unpacked)
    return members, work / "wheel"


def test_the_wheel_holds_every_file_of_the_apps(built):
    """Templates, static files, migrations, management commands, data (the AAGUID table),
    and any catalogue (``locale/``) or marker an app gains later: every file of each app."""
    _members, wheel = built
    sources = {path.relative_to(ROOT).as_posix() for package in PACKAGES
               for path in (ROOT / package).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    packaged = {path.relative_to(wheel).as_posix() for path in wheel.rglob("*") if path.is_file()}

    assert sources - packaged == set()
    # Each kind is there at all (a wrong glob that matched nothing would pass the above for
    # an app the tree lost too).
    for expected in ["accounts/templates/accounts/login.html",
                     "accounts/templates/accounts/email/magic_link_message.html",
                     "authsuite/static/authsuite/authsuite.css",
                     "authsuite/mailbox/templates/authsuite_mailbox/inbox.html",
                     "passkeys/static/passkeys/passkeys.js", "passkeys/data/aaguids.json",
                     "audit/migrations/0001_events_chain_checkpoints.py",
                     "accounts/management/commands/demo_user.py"]:
        assert expected in packaged, expected


def test_the_wheel_holds_nothing_but_the_apps(built):
    _members, wheel = built
    packaged = [path.relative_to(wheel) for path in wheel.rglob("*") if path.is_file()]

    assert {path.parts[0] for path in packaged} == set(PACKAGES)
    assert not [path for path in packaged if path.suffix in {".sqlite3", ".pyc", ".log"}
                or {"tests", "bench", "scripts", "var", "staticfiles"} & set(path.parts)]


def test_the_sdist_holds_the_apps_and_their_description_only(built):
    members, _wheel = built
    top = {name.split("/")[1] for name in members if name.count("/") >= 1}

    assert top <= {*PACKAGES, "README.md", "LICENSE", "pyproject.toml", "setup.cfg", "PKG-INFO",
                   "django_authsuite.egg-info"}
    assert set(PACKAGES) <= top
    assert "LICENSE" in top  # the licence asks for its notice to go with every copy


def test_the_demo_settings_installed_from_the_package_write_nothing_beside_it(built, tmp_path):
    """Installed, the apps are in site-packages: the demo profile keeps its database and
    collected static files in the directory it runs in, and makes no directory for a
    database it does not use (the production profile's is PostgreSQL)."""
    _members, wheel = built
    env = {k: v for k, v in os.environ.items() if k not in {"AUTHSUITE_VAR_DIR", "DATABASE_URL"}}
    env["PYTHONPATH"] = str(wheel)

    def settings(**more: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", "import authsuite.settings as s; print(s.__file__); "
                                   "print(s.STATIC_ROOT); print(s.DATABASES['default']['NAME'])"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**env, **more})
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    module, static_root, name = settings(DATABASE_URL="postgres://db.example/authsuite")
    assert Path(module).is_relative_to(wheel)
    assert Path(static_root) == tmp_path / "staticfiles"
    assert name == "authsuite"
    assert not (wheel / "var").exists() and not (tmp_path / "var").exists()

    _module, _static_root, name = settings()
    assert name == str(tmp_path / "var" / "demo.sqlite3")
    assert (tmp_path / "var").is_dir() and not (wheel / "var").exists()


# --- the declared dependencies ---------------------------------------------------------------

#: What the apps call that a dependency gained in a given release. pip may install the
#: declared floor, so it must be at least that release: below it, the call fails at run time
#: (every API request, for the parser's ``get_encoding``).
NEEDED = {"djangorestframework": ("3.18.2", "rest_framework.parsers", "get_encoding")}


def declared_floor(name: str) -> Version:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirement = next(r for r in map(Requirement, project["dependencies"]) if r.name == name)
    return min(Version(spec.version) for spec in requirement.specifier if spec.operator == ">=")


@pytest.mark.parametrize("name", NEEDED)
def test_a_declared_floor_has_what_the_apps_call(name):
    release, module, attribute = NEEDED[name]
    assert hasattr(import_module(module), attribute)  # the apps still call it
    assert declared_floor(name) >= Version(release)


# --- a project of its own, set up from the package as the README says -------------------------


def readme_block(after: str, index: int = 0) -> str:
    """The ``index``-th Python block of the README after the text ``after``."""
    text = README.split(after, 1)[1]
    return text.split("```python\n")[index + 1].split("\n```", 1)[0]


README = (ROOT / "README.md").read_text()
ADD = "## Add authsuite to your project"

# What `django-admin startproject mysite` gives that the README's blocks do not set.
PROJECT_SETTINGS = """
import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "a project's own key, long enough for Django's checks: 0123456789abcdefghij"
DEBUG = True
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "mysite.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

# The project's own: a base.html of its own, a page of its own behind LOGIN_URL, where
# sign-in leads, and the suite's URLs under a prefix of its choosing.
PROJECT_OWN = """
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # fast
"""

FLOW = r"""
import json, re
from urllib.parse import urlsplit

import django
django.setup()
from celery import current_app
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()  # mail kept in mail.outbox
call_command("migrate", verbosity=0)
call_command("check", fail_level="WARNING")
call_command("collectstatic", interactive=False, verbosity=0)
call_command("createsuperuser", interactive=False, email="staff@example.com", verbosity=0)
import accounts
steps = {"celery_app": current_app.main, "accounts": accounts.__file__}

def link():
    return urlsplit(re.findall(r"https?://[^\s<>\"']+", mail.outbox[-1].body)[0]).path

def confirm(browser, path, **data):
    first = browser.get(path)
    page = browser.get(first["Location"])
    reference = re.search(r'name="link" value="([^"]*)"', page.content.decode()).group(1)
    return browser.post(first["Location"], {"link": reference, **data})

password, email = "correct horse battery staple", "ann@example.com"
browser = Client()
steps["signup"] = browser.post("/auth/accounts/signup/", {"email": email, "password": password})["Location"]
steps["verify_link"] = link()
steps["verified"] = confirm(browser, link(), password=password)["Location"]
steps["login"] = browser.post("/auth/accounts/login/", {"email": email, "password": password})["Location"]
steps["dashboard"] = browser.get("/dashboard/").content.decode()
steps["profile"] = browser.get("/auth/accounts/").status_code
steps["logout"] = browser.post("/auth/accounts/logout/")["Location"]
steps["anonymous_dashboard"] = browser.get("/dashboard/")["Location"]
browser.post("/auth/accounts/magic-link/", {"email": email})
steps["magic_link"] = link()
steps["magic_signed_in"] = confirm(browser, link())["Location"]
browser.post("/auth/accounts/logout/")
browser.post("/auth/accounts/password/reset/", {"email": email})
steps["reset_link"] = link()
new = "another passphrase, just as long"
steps["reset"] = confirm(browser, link(), new_password=new, new_password_confirm=new)["Location"]
steps["login_after_reset"] = browser.post(
    "/auth/accounts/login/", {"email": email, "password": new})["Location"]
schema = browser.get("/auth/api/auth/v1/schema/", {"format": "json"}).json()
steps["schema_paths"] = sorted({path.split("/api/")[0] for path in schema["paths"]})
steps["api_not_found"] = browser.get("/auth/api/auth/v1/no-such-endpoint/").json()["error"]["code"]
staff = Client()
steps["staff_login"] = staff.post(
    "/auth/accounts/login/", {"email": "staff@example.com", "password": "staff passphrase 2026"}
)["Location"]
steps["admin"] = [staff.get(path).status_code for path in ["/admin/", "/admin/accounts/user/",
                                                             "/admin/audit/event/"]]
steps["static"] = sorted(p.name for p in (django.conf.settings.STATIC_ROOT).iterdir())
print(json.dumps(steps))
"""


@pytest.mark.own_settings  # a project of its own, in a process of its own
def test_a_project_set_up_as_the_readme_says_runs_from_the_package(built, tmp_path):
    _members, wheel = built
    project = tmp_path / "mysite"
    (project / "mysite").mkdir(parents=True)
    celery_app, package_init = readme_block("Celery's own layout does it").split(
        "# mysite/__init__.py\n")
    (project / "mysite" / "__init__.py").write_text(package_init)
    (project / "mysite" / "celery.py").write_text(celery_app)
    (project / "mysite" / "settings.py").write_text("\n".join([
        PROJECT_SETTINGS, readme_block(ADD),
        readme_block("What \"Mail outbox and Celery\" below says holds"), PROJECT_OWN]))
    urls = readme_block("One URL include gives").replace(
        'path("", include("authsuite.suite_urls"))', 'path("auth/", include("authsuite.suite_urls"))')
    (project / "mysite" / "urls.py").write_text(urls + """
from django.contrib.auth.decorators import login_required
from django.views.generic import TemplateView

urlpatterns.append(path("dashboard/", login_required(
    TemplateView.as_view(template_name="dashboard.html")), name="dashboard"))
""")
    (project / "templates").mkdir()
    (project / "templates" / "base.html").write_text(
        "<!doctype html><title>My site</title><p>my own base</p>{% block content %}{% endblock %}")
    (project / "templates" / "dashboard.html").write_text(
        '{% extends "base.html" %}{% block content %}hello {{ user.email }}{% endblock %}')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "EMAIL_", "AUTHSUITE_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(project), str(wheel)]),
               DJANGO_SETTINGS_MODULE="mysite.settings", DJANGO_SUPERUSER_PASSWORD="staff passphrase 2026")

    done = subprocess.run([sys.executable, "-c", FLOW], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = json.loads(done.stdout.strip().splitlines()[-1])

    assert Path(steps["accounts"]).is_relative_to(wheel)
    assert steps["celery_app"] == "mysite"  # mail went through the project's app, eagerly
    assert steps["signup"] == "/auth/accounts/signup/verify/"
    assert steps["verify_link"].startswith("/auth/accounts/email/verify/")
    assert steps["verified"] == "/auth/accounts/login/"
    assert steps["login"] == "/dashboard/"
    assert "my own base" in steps["dashboard"] and "hello ann@example.com" in steps["dashboard"]
    assert steps["profile"] == 200
    assert steps["logout"] == "/"
    assert steps["anonymous_dashboard"] == "/auth/accounts/login/?next=/dashboard/"
    assert steps["magic_link"].startswith("/auth/accounts/magic-link/")
    assert steps["magic_signed_in"] == "/dashboard/"
    assert steps["reset_link"].startswith("/auth/accounts/password/reset/")
    assert steps["reset"] == "/auth/accounts/login/"
    assert steps["login_after_reset"] == "/dashboard/"
    assert steps["schema_paths"] == ["/auth"]
    assert steps["api_not_found"] == "not_found"
    assert steps["staff_login"] == "/dashboard/"
    assert steps["admin"] == [200, 200, 200]
    assert {"admin", "authsuite", "passkeys", "drf_spectacular_sidecar"} <= set(steps["static"])
