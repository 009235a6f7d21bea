"""The distribution a project installs (django-authsuite) holds every file the apps need at run
time, and nothing of the checkout's own: built as pip builds it, an sdist first, then the
wheel's files from the sdist (``build_py``, the step of ``bdist_wheel`` that chooses them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

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

    assert top <= {*PACKAGES, "README.md", "pyproject.toml", "setup.cfg", "PKG-INFO",
                   "django_authsuite.egg-info"}
    assert set(PACKAGES) <= top


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
