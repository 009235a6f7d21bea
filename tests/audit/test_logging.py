"""What verifying the trail tells an operator through logging: a trail that fails
verification is an error and a stalled sealer a warning, each said once, whoever ran the
check; a sound trail is silent."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit import chain
from tests.audit.support import command_fails, raw, write

pytestmark = pytest.mark.django_db


def _audit_records(caplog, level):
    return [r for r in caplog.records if r.name == "authsuite.audit" and r.levelno >= level]


def test_a_sound_trail_logs_no_warning(caplog):
    caplog.set_level(logging.DEBUG)
    write(3)
    assert chain.verify().ok
    assert _audit_records(caplog, logging.WARNING) == []


def test_a_tampered_trail_is_one_error_naming_the_event(caplog):
    events = write(4, actor_repr="ann@example.com")
    raw("UPDATE audit_event SET actor_repr = %s WHERE id = %s",
        ["mallory@example.com", events[1].pk])
    caplog.set_level(logging.DEBUG)
    report = chain.verify()
    assert not report.ok
    [error] = _audit_records(caplog, logging.WARNING)
    assert error.levelno == logging.ERROR
    assert f"first bad event {events[1].pk}" in error.getMessage()
    assert "does not match its MAC" in error.getMessage()
    # Ids and positions, not what the events hold.
    assert "mallory@example.com" not in error.getMessage()


def test_the_command_run_from_cron_leaves_the_error_in_the_log_too(caplog):
    events = write(3)
    raw("UPDATE audit_event SET outcome = %s WHERE id = %s", ["failure", events[1].pk])
    caplog.set_level(logging.DEBUG)
    assert "FAILED" in command_fails("--no-seal")
    assert len(_audit_records(caplog, logging.ERROR)) == 1


def test_events_left_unchained_past_the_grace_are_a_warning(caplog, settings, time_machine):
    settings.AUTHSUITE_AUDIT_SEAL_GRACE = 60
    write(2, seal=False)
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    caplog.set_level(logging.DEBUG)
    call_command("audit_verify", "--no-seal")
    [warning] = _audit_records(caplog, logging.WARNING)
    assert warning.levelno == logging.WARNING
    assert "2 events have waited to be chained" in warning.getMessage()
