"""Under CI=true a test whose service is missing fails the run; elsewhere it is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TEST = "tests/e2e/test_account_pages.py"

# A pytest process of its own, whose outcome turns on Chromium alone: the run on auth.User
# would repeat it as is.
pytestmark = pytest.mark.own_settings


def run_browser_tests(ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": ci, "CHROMIUM_PATH": "/nonexistent/chromium"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "browser",
         BROWSER_TEST], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("ci", "fails"), [("true", True), ("", False)])
def test_a_missing_browser(ci, fails):
    run = run_browser_tests(ci)
    output = run.stdout + run.stderr
    if fails:
        assert run.returncode == 1, output
        assert "a required service is missing under CI=true: needs Chromium" in output
        assert "xfail" not in output and " passed" not in output
    else:
        assert run.returncode == 0, output
        assert "skipped" in output and "error" not in output
