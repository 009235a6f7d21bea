"""``audit_verify`` and ``audit_checkpoint`` as cron and CI run them: exit status, what goes
to stdout and stderr, ``--json``, ``--verbosity 0``, and bad input as one line."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import chain
from audit.management.commands import audit_checkpoint, audit_verify
from tests.audit.support import raw, write

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_verify_prints_nothing_at_verbosity_0_when_the_trail_verifies():
    write(3)

    assert _run("audit_verify", verbosity=0) == ("", "")


@pytest.mark.django_db
def test_verify_json_reports_a_sound_trail():
    write(3)

    out, err = _run("audit_verify", "--json")

    assert json.loads(out) == {"ok": True, "checked": 3, "checkpoints": 0,
                               "exported_checked": 0, "pending": 0, "stale_pending": 0,
                               "first_bad": None, "problems": []}
    assert err == ""


@pytest.mark.django_db
def test_verify_json_reports_tampering_and_still_fails():
    events = write(3)
    raw("UPDATE audit_event SET actor_repr = 'mallory' WHERE id = %s", [events[1].pk])
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=f"first bad event: {events[1].pk}"):
        call_command("audit_verify", "--json", "--no-seal", stdout=out, stderr=err)

    report = json.loads(out.getvalue())
    assert report["ok"] is False
    assert report["first_bad"] == events[1].pk
    assert report["problems"] and all(p in err.getvalue() for p in report["problems"])


@pytest.mark.django_db
@pytest.mark.parametrize("line", [
    '{"seq": Infinity, "hash": "x", "created_at": "y", "signature": "z"}',
    '{"seq": -Infinity, "hash": "x", "created_at": "y", "signature": "z"}',
    '{"seq": NaN, "hash": "x", "created_at": "y", "signature": "z"}',
])
def test_an_exported_checkpoint_whose_seq_is_no_integer_fails_verification(tmp_path, line):
    write(2)
    exported = tmp_path / "checkpoints.jsonl"
    exported.write_text(line + "\n")

    with pytest.raises(CommandError, match="FAILED verification"):
        _run("audit_verify", "--checkpoints", str(exported))


@pytest.mark.django_db
def test_checkpoint_prints_nothing_at_verbosity_0_but_export_still_exports():
    write(2)

    assert _run("audit_checkpoint", verbosity=0) == ("", "")
    assert _run("audit_checkpoint", verbosity=0) == ("", "")  # the same checkpoint again
    out, _err = _run("audit_checkpoint", "--export", verbosity=0)
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2]


@pytest.mark.django_db
def test_checkpoint_on_an_empty_chain_prints_nothing_at_verbosity_0():
    assert _run("audit_checkpoint", verbosity=0) == ("", "")
    assert chain.checkpoint() is None


@pytest.mark.parametrize("command, options", [
    (audit_verify, ["--checkpoints FILE", "--no-seal", "--json"]),
    (audit_checkpoint, ["--export"]),
])
def test_help_documents_the_options_and_the_exit_status(command, options):
    text = " ".join(command.Command().create_parser("manage.py", "x").format_help().split())

    for option in options:
        assert option in text
    assert "Exit status: 0" in text


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A SQLite file the commands run on in their own processes, with two accounts' events
    (each ``demo_user`` records that it verified the address)."""
    path = tmp_path_factory.mktemp("operator") / "db.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": f"sqlite:///{path}"}
    for args in (["migrate", "-v0"],
                 ["demo_user", "--email", "ann@example.com", "--password", "pass-phrase-71"],
                 ["demo_user", "--email", "bob@example.com", "--password", "pass-phrase-72"]):
        subprocess.run([sys.executable, "manage.py", *args, "--skip-checks"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=120)
    return path, env


def _manage(database, *args) -> subprocess.CompletedProcess:
    _path, env = database
    return subprocess.run([sys.executable, "manage.py", *args, "--skip-checks"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_commands_exit_status_and_streams_from_the_command_line(database, tmp_path):
    fine = _manage(database, "audit_verify")
    assert (fine.returncode, fine.stderr) == (0, ""), fine.stderr
    assert fine.stdout.startswith("OK: 2 events in the chain")

    quiet = _manage(database, "audit_verify", "-v", "0")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")

    exported = _manage(database, "audit_checkpoint", "--export", "-v", "0")
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["seq"] for line in exported.stdout.splitlines()] == [2]

    missing = _manage(database, "audit_verify", "--checkpoints", str(tmp_path / "none.jsonl"))
    assert (missing.returncode, missing.stdout) == (1, "")
    assert len(missing.stderr.splitlines()) == 1
    assert missing.stderr.startswith("CommandError: cannot read checkpoints from ")

    unknown = _manage(database, "audit_verify", "--since", "yesterday")
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr

    path, _env = database
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT min(id) FROM audit_event").fetchone()[0]
        db.execute("UPDATE audit_event SET data = '{}' WHERE id = ?", [first])
    bad = _manage(database, "audit_verify", "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_bad"] == first
    assert "Traceback" not in bad.stderr
    assert bad.stderr.splitlines()[-1] == (
        f"CommandError: audit trail FAILED verification (first bad event: {first})")
