"""Smoke test of the MFA benchmark: it runs, checks what it measures, and reports its figures
as JSON on its last line. Never timed."""

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
    "name", "value", "unit", "baseline", "ratio", "goal", "queries_per_challenge",
    "queries_per_login_challenge", "queries_per_page", "challenge_median_s", "page_median_s",
    "login_challenge_median_s", "iterations", "quick", "database",
}


def test_mfa_benchmark_prints_its_json_last():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-m", "bench", "mfa", "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result.keys() >= KEYS
    assert result["name"] == "mfa"
    assert result["unit"] == "ratio"
    assert result["goal"] == 1.5
    assert result["value"] == result["ratio"] > 0
    assert result["baseline"] == result["page_median_s"] > 0
    assert result["challenge_median_s"] > 0 and result["login_challenge_median_s"] > 0
    assert result["quick"] is True and result["iterations"] == 5
    # The challenge does real work (a conditional UPDATE, an audit event, a new session key),
    # and not an unbounded number of queries.
    assert 5 <= result["queries_per_challenge"] <= 25
    assert result["queries_per_page"] < result["queries_per_challenge"]
    assert any(line.startswith("ratio step-up / page:") for line in lines[:-1])


def test_mfa_benchmark_help():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-m", "bench", "mfa", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--quick" in done.stdout and "--postgres" in done.stdout
