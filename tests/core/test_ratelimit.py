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


def test_a_reset_during_an_attempt_does_not_refuse_it(monkeypatch):
    # django-ratelimit counts an attempt with ``add`` (the window's first) or, the counter
    # being there, ``incr``. A reset that deleted the counter in between left ``incr``
    # nothing to count on: the cache said no, and django-ratelimit refuses what it cannot
    # count. Here the attempt lingers between the two, and the reset runs there.
    for _ in range(LIMIT):
        attempt()
    cache_class = type(caches["default"])
    add = cache_class.add

    def lingering_add(self, *args, **kwargs):
        added = add(self, *args, **kwargs)
        time.sleep(0.3)
        return added

    monkeypatch.setattr(cache_class, "add", lingering_add)

    def act(i):
        if i == 0:
            return attempt()
        time.sleep(0.1)
        return reset()

    assert race(2, act) == [False, True]
    monkeypatch.undo()
    # The attempt counted in the new count: one more than LIMIT - 1 is let through.
    assert [attempt() for _ in range(LIMIT)] == [False] * (LIMIT - 1) + [True]


def expiry(cache_key: str) -> float:
    """The seconds the counter ``cache_key`` has left, as its cache keeps them."""
    cache = caches["default"]
    if hasattr(cache, "pttl"):  # django-redis
        return cache.pttl(cache_key) / 1000
    return cache._expire_info[cache.make_and_validate_key(cache_key)] - time.time()


def counter_key() -> str:
    from django_ratelimit import ALL
    from django_ratelimit.core import _get_window, _make_cache_key

    key = ratelimit._opaque(ACCOUNT)
    return _make_cache_key("test:account", _get_window(key, 300), RATE, key, ALL)


def test_a_reset_keeps_the_windows_expiry():
    # The count is zeroed where it is, not removed: the counter still ends with its window.
    for _ in range(LIMIT):
        attempt()
    before = expiry(counter_key())

    assert reset() is True

    assert caches["default"].get(counter_key()) == 0
    assert 0 <= before - expiry(counter_key()) < 1  # Redis's clock runs on meanwhile

