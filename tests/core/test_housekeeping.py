"""``manage.py authsuite_housekeeping``: beat's periodic tasks from cron, for a site without
beat: each task of the installed apps, or those named; a failure reported, the others run."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from accounts.models import UserSession
from audit import chain
from audit.models import Checkpoint, PendingSeal
from authsuite.management.commands.authsuite_housekeeping import TASKS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NAMES = [task.name for task in TASKS]


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("authsuite_housekeeping", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_every_task_runs_and_does_its_work(settings):
    pending = [chain.record(action="test.event", actor_repr="ann", data={}) for _ in range(3)]
    stale = UserSession.objects.create(
        user=UserFactory(), key_digest="0" * 64,
        last_seen_at=timezone.now() - timedelta(days=400),
        created_at=timezone.now() - timedelta(days=400))

    out, err = run()

    assert err == ""
    assert [line.split(":")[0] for line in out.splitlines()] == NAMES
    # The three waiting, and any the other tasks recorded before it (a session ended).
    sealed = next(line for line in out.splitlines() if line.startswith("audit.seal_events:"))
    assert int(sealed.split()[1]) >= 3
    assert not PendingSeal.objects.filter(event__in=pending).exists()
    assert Checkpoint.objects.exists()
    stale.refresh_from_db()
    assert stale.ended_at is not None


def test_only_the_tasks_named_run(monkeypatch):
    ran = []
    for task in TASKS:
        module, name = task.function.rsplit(".", 1)
        monkeypatch.setattr(f"{module}.{name}", lambda name=task.name: ran.append(name) or 0)

    out, _err = run("audit.prune", "accounts.expire_sessions")

    # In the command's own order, whatever the order named.
    assert ran == ["accounts.expire_sessions", "audit.prune"]
    assert out.splitlines() == ["accounts.expire_sessions: 0 (sessions ended)",
                                "audit.prune: 0 (events deleted)"]


def test_a_failing_task_is_reported_and_the_others_still_run(monkeypatch):
    def broken():
        raise RuntimeError("the database went away\nsecond line never shown")

    monkeypatch.setattr("accounts.tasks.expire_sessions", broken)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 6 tasks failed: accounts.expire_sessions"):
        call_command("authsuite_housekeeping", stdout=out, stderr=err)

    assert err.getvalue() == ("accounts.expire_sessions failed: "
                              "RuntimeError: the database went away\n")
    assert [line.split(":")[0] for line in out.getvalue().splitlines()] == [
        name for name in NAMES if name != "accounts.expire_sessions"]


def test_json_reports_each_task_whatever_the_outcome(monkeypatch):
    monkeypatch.setattr("passkeys.tasks.expire_signups", lambda: 1 / 0)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError):
        call_command("authsuite_housekeeping", "--json", stdout=out, stderr=err)

    report = json.loads(out.getvalue())
    assert list(report) == sorted(NAMES)
    assert report["passkeys.expire_signups"] == {
        "ok": False, "error": "ZeroDivisionError: division by zero"}
    assert report["accounts.expire_sessions"] == {"ok": True, "result": 0}


def test_verbosity_0_prints_nothing_on_success():
    assert run(verbosity=0) == ("", "")


def test_a_task_of_an_app_not_installed_is_refused(settings):
    without = [app for app in settings.INSTALLED_APPS if not app.startswith("passkeys")]
    with override_settings(INSTALLED_APPS=without):
        with pytest.raises(CommandError, match="not installed here: passkeys.expire_signups"):
            run("passkeys.expire_signups")
        out, _err = run()
    assert "passkeys.expire_signups" not in out


@pytest.mark.parametrize("name", ["nope", "", "AUDIT.PRUNE", "audit.prune ", "ünïcode", "x" * 5000])
def test_an_unknown_task_is_a_usage_error_without_a_traceback(name):
    result = subprocess.run([sys.executable, "manage.py", "authsuite_housekeeping", name],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no task" in result.stderr
