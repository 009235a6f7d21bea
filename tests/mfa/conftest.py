"""Fixtures every MFA test module shares."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts import authrecord
from tests.mfa.support import Clock, enroll, sign_in_fully


@pytest.fixture
def clock(monkeypatch):
    """The TOTP clock (``mfa.totp.now``), at a step boundary."""
    return Clock(monkeypatch)


@pytest.fixture
def later(monkeypatch):
    """Moves the authentication record's clock past the reauthentication timeout."""
    start = authrecord.now()
    shift = [0]
    monkeypatch.setattr(authrecord, "now", lambda: start + shift[0])

    def move(seconds: int = 301) -> None:
        shift[0] += seconds

    return move


@pytest.fixture
def two_factor_session(client, user, password, clock):
    """``client`` signed in with the password and a code: (client, TOTP secret, codes)."""
    secret, codes = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    mail.outbox.clear()
    return client, secret, codes
