"""The tests' rate-limit windows (``tests.conftest._rate_limit_windows_still``): they stay
where a test began them while the wall clock runs on, and move when the test moves the
clock, so no test's count is split by a window ending mid-test."""

from __future__ import annotations

import time

from django.test import RequestFactory
from django_ratelimit.core import is_ratelimited


def limited() -> bool:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")
    return is_ratelimited(request, group="still", key="ip", rate="1/m", increment=True)


def test_a_window_stays_while_the_wall_clock_runs_on(monkeypatch):
    assert limited() is False
    wall = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: wall() + 61)  # a minute passes, untravelled
        assert limited() is True


def test_a_window_moves_when_the_test_moves_the_clock(time_machine):
    time_machine.move_to(time.time(), tick=False)
    assert limited() is False
    assert limited() is True
    time_machine.shift(61)
    assert limited() is False
