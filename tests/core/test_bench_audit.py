"""Smoke test of the audit benchmark on PostgreSQL: it runs, checks what it measures, and
reports its figures as JSON on its last line. Never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "name", "value", "unit", "baseline", "ratio", "goal", "writes_per_second", "writes_goal",
    "verify_events_per_second", "verify_goal", "login_audited_median_s",
    "login_unaudited_median_s",
}

# A process of its own on settings of its own: the run on auth.User would repeat it as is.
pytestmark = [pytest.mark.postgres, pytest.mark.own_settings]


def run_bench(*args: str, database_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "bench", "audit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _server_url() -> str:
    """The PostgreSQL server the tests use (the benchmark makes its own database there)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/postgres"


def test_audit_benchmark_prints_its_json_last():
    # A database of its own, so a benchmark run by hand at the same time is left alone.
    done = run_bench("--quick", "--database", f"authsuite_bench_smoke_{os.getpid()}",
                     database_url=_server_url())
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result.keys() >= KEYS
    assert (result["name"], result["unit"], result["goal"]) == ("audit", "ratio", 1.05)
    assert result["value"] == result["ratio"] > 0
    assert result["baseline"] == result["login_unaudited_median_s"] > 0
    assert result["writes_per_second"] > 0 and result["writes_goal"] == 2000
    assert result["verify_events_per_second"] > 0 and result["verify_goal"] == 100_000
    assert result["quick"] is True
    assert any(line.startswith("audit_verify:") for line in lines[:-1])


def test_audit_benchmark_refuses_another_database():
    done = run_bench("--quick", database_url="sqlite:///tmp/nothing.sqlite3")
    assert done.returncode == 2
    assert "PostgreSQL" in done.stderr
    assert done.stdout == ""


def test_audit_benchmark_never_drops_a_database_not_its_own():
    done = run_bench("--quick", "--database", "test_authsuite", database_url=_server_url())
    assert done.returncode == 2
    assert "must start with authsuite_bench" in done.stderr
