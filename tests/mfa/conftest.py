"""Fixtures every MFA test module shares."""

from __future__ import annotations

import pytest

from tests.mfa.support import Clock


@pytest.fixture
def clock(monkeypatch):
    """The TOTP clock (``mfa.totp.now``), at a step boundary."""
    return Clock(monkeypatch)
