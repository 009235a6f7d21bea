"""Smoke test of the enumeration benchmark: it runs and reports its figures. Never timed."""

from __future__ import annotations

import json

import pytest

from tests.core.test_bench import run_bench

FLOWS = {"signup", "login", "magic_link", "password_reset"}

# A process of its own on settings of its own: the run on auth.User would repeat it as is.
pytestmark = pytest.mark.own_settings


def test_enumeration_benchmark_prints_its_json_last():
    done = run_bench("enumeration", "--quick")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["name"] == "enumeration"
    assert result["unit"] == "share"
    assert result["goal"] == 0.05
    assert result["value"] == result["ratio"] == result["flows"][result["largest"]]["gap"]
    assert set(result["flows"]) == FLOWS
    for name, figures in result["flows"].items():
        assert figures["known_median_s"] > 0 and figures["unknown_median_s"] > 0, name
        assert 0 <= figures["gap"] < 1, name
        assert any(line.startswith(name) for line in lines[:-1])
