"""Smoke test of the passkey benchmark: it runs and reports its figures. Never timed."""

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
    "name", "value", "unit", "baseline", "ratio", "goal", "passkey_median_s",
    "password_median_s", "options_median_s", "verify_median_s", "queries_per_ceremony",
    "queries_per_password_login", "hasher", "iterations", "quick",
}


def test_passkeys_benchmark_prints_its_json_last():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "passkeys", "--quick"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result.keys() >= KEYS
    assert result["name"] == "passkeys"
    assert result["unit"] == "ratio"
    assert result["goal"] == 1.0
    assert result["value"] == result["ratio"] > 0
    assert result["baseline"] == result["password_median_s"] > 0
    assert result["passkey_median_s"] > 0 and result["queries_per_ceremony"] > 0
    assert result["quick"] is True and result["iterations"] == 5
    # The password side is measured with the production hasher, not the fast test one.
    assert result["hasher"] == "accounts.hashers.NormalizingArgon2idPasswordHasher"
    assert any(line.startswith("passkey options+verify:") for line in lines[:-1])
