"""Fixtures of the passkey tests: a software authenticator and a passkey registered with it."""

from __future__ import annotations

import pytest

from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import add_passkey, password_client


@pytest.fixture
def authenticator():
    return SoftAuthenticator()


@pytest.fixture
def passkey(user, password, authenticator):
    return add_passkey(password_client(user, password), authenticator)
