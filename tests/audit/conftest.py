import pytest

from audit import alerts


@pytest.fixture(autouse=True)
def _no_inline_sealing(no_inline_sealing):
    """Tests chain events when they mean to (``chain.seal_all``): a commit hook that seals
    at most once a second would make what is chained depend on the clock."""


@pytest.fixture(autouse=True)
def _forget_known_devices():
    """Each test starts with a trail of its own: nothing remembered from another one."""
    alerts._known_devices.clear()
    yield
    alerts._known_devices.clear()
