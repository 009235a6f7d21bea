"""``authsuite.ratelimit.reset``: forgetting a count (staff unlocking an account) on the
cache the tests run with (local memory, or Redis under REDIS_URL)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from authsuite import ratelimit
from tests.accounts.support import freeze
from tests.helpers import race

LIMIT = 3
RATE = f"{LIMIT}/5m"
ACCOUNT = "ann@example.com"
pytestmark = pytest.mark.django_db  # a refusal is audited


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    freeze(time_machine)  # one rate-limit window throughout


def attempt() -> bool:
    """One attempt counted for ``ACCOUNT``; whether it was refused."""
    return ratelimit.check(RequestFactory().post("/"), group="test", rate=RATE,
                           scope="account", value=ACCOUNT).limited


def reset() -> bool:
    return ratelimit.reset(group="test", rate=RATE, scope="account", value=ACCOUNT)


@pytest.mark.parametrize("attempts", range(LIMIT + 3))
def test_a_reset_says_whether_the_next_attempt_would_have_been_refused(attempts):
    for _ in range(attempts):
        attempt()

    assert reset() is (attempts >= LIMIT)
    assert [attempt() for _ in range(LIMIT + 1)] == [False] * LIMIT + [True]  # a fresh count


def test_a_second_reset_finds_nothing_left():
    for _ in range(LIMIT):
        attempt()

    assert (reset(), reset()) == (True, False)


def test_of_two_resets_at_once_only_one_says_it_undid_a_refusal(monkeypatch):
    # The count was read, then deleted: two staff unlocking at once both read it in force,
    # and both reported the account unlocked. Here each read lingers, so that both would.
    for _ in range(LIMIT):
        attempt()
    cache_class = type(caches["default"])
    read = cache_class.get

    def lingering_get(self, *args, **kwargs):
        value = read(self, *args, **kwargs)
        time.sleep(0.2)
        return value

    monkeypatch.setattr(cache_class, "get", lingering_get)

    assert sorted(race(2, lambda i: reset())) == [False, True]
    assert attempt() is False

