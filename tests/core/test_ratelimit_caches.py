"""Rate limits on the caches a project may name instead of Redis: a counter lasts as long
as its window, whatever the cache's default ``TIMEOUT``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django_ratelimit.core import _get_window

from authsuite import ratelimit

ACCOUNT = "ann@example.com"
pytestmark = pytest.mark.django_db  # a refusal is audited


@pytest.fixture(params=["filebased", "db"])
def cache(request, settings, tmp_path):
    if request.param == "filebased":
        backend = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                   "LOCATION": str(tmp_path / "cache")}
    else:
        backend = {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                   "LOCATION": "authsuite_test_cache"}
    settings.CACHES = {"default": backend}  # TIMEOUT left at Django's default, 300 s
    if request.param == "db":
        call_command("createcachetable", verbosity=0)
    return request.param


def attempt(rate: str) -> bool:
    return ratelimit.check(RequestFactory().post("/"), group="test", rate=rate,
                           scope="account", value=ACCOUNT).limited


@pytest.mark.usefixtures("cache")
def test_an_hours_count_is_kept_past_the_caches_default_timeout(time_machine):
    # The first second of the account's current window (django-ratelimit's windows end at
    # a time of their own for each key).
    window_end = _get_window(ratelimit._opaque(ACCOUNT), 3600)
    start = datetime.fromtimestamp(window_end - 3600 + 1, tz=UTC)
    time_machine.move_to(start, tick=False)
    assert [attempt("3/h") for _ in range(3)] == [False, False, False]

    time_machine.move_to(start + timedelta(minutes=10), tick=False)  # the same window

    assert attempt("3/h") is True
