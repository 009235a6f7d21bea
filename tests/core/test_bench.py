"""Smoke test of the sign-in benchmark: it runs and reports its figures. Never timed."""

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
KEYS = {
    "name", "value", "unit", "baseline", "ratio", "goal", "login_median_s", "verify_median_s",
    "logins_per_second_per_core", "empty_post_after_hash_s", "empty_post_after_pause_s",
    "empty_post_s", "login_without_hash_s", "bare_django_ratio", "bare_django_overhead_s",
    "bare_django_queries",
}


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )


def test_login_benchmark_prints_its_json_last():
    done = run_bench("login", "--quick")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result.keys() >= KEYS
    assert result["name"] == "login"
    assert result["unit"] == "ratio"
    assert result["goal"] == 1.10
    assert result["value"] == result["ratio"] > 0
    assert result["baseline"] == result["verify_median_s"] > 0
    assert result["login_median_s"] > 0
    # Measured with the production hasher, not the fast one of the test settings.
    assert result["hasher"] == "accounts.hashers.NormalizingArgon2idPasswordHasher"
    assert any(line.startswith("check_password:") for line in lines[:-1])
    # The floor: an empty form POST through the same middleware, measured, not assumed.
    assert 0 < result["empty_post_after_hash_s"] < result["login_median_s"]
    assert 0 < result["empty_post_s"] < result["login_median_s"]
    assert 0 < result["empty_post_after_pause_s"] < result["login_median_s"]
    assert any(line.startswith("empty form POST") for line in lines[:-1])
    # The sign-in's own work, with a hash that costs next to nothing in the hash's place.
    assert 0 < result["login_without_hash_s"] < result["login_median_s"]
    assert any(line.startswith("the same sign-in without its hash") for line in lines[:-1])
    # The reference: Django's authenticate() and login() alone, the same hash inside.
    assert result["bare_django_ratio"] > 0
    assert result["bare_django_queries"] < result["queries_per_login"]
    assert any(line.startswith("reference, Django's own sign-in bare") for line in lines[:-1])


def test_unknown_benchmark_is_refused():
    done = run_bench("no-such-benchmark")
    assert done.returncode == 2
    assert "login" in done.stderr
