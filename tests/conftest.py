"""Shared fixtures and the service markers.

Tests marked ``services`` need PostgreSQL (DATABASE_URL), Redis (REDIS_URL) and spawn a
Celery worker; ``postgres`` tests need PostgreSQL; ``browser`` tests need Chromium. Without
the service they are skipped, except under CI=true, where a missing service fails the run.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings
from django.core.cache import caches

import authsuite.celery  # noqa: F401 - the Celery app configured from the test settings
from tests.factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# The tests of a project on django.contrib.auth's User run only under its settings
# (tests.settings_auth_user): collected there, not skipped here.
collect_ignore = [] if settings.AUTH_USER_MODEL == "auth.User" else ["auth_user"]
STRONG_PASSWORD = "correct horse battery staple"


def _missing(marker: str) -> str | None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if marker in ("services", "postgres") and "postgresql" not in engine:
        return "needs PostgreSQL (set DATABASE_URL)"
    if marker == "services" and not os.environ.get("REDIS_URL"):
        return "needs Redis (set REDIS_URL)"
    if marker == "browser" and not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM}"
    return None


def pytest_collection_modifyitems(config, items):
    strict = os.environ.get("CI", "").lower() == "true"
    for item in items:
        for marker in ("services", "postgres", "browser"):
            if marker not in item.keywords:
                continue
            reason = _missing(marker)
            if reason is None:
                continue
            if strict:
                item.stash[MISSING] = reason  # fails at setup: pytest_runtest_setup
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


MISSING = pytest.StashKey[str]()


def pytest_runtest_setup(item):
    reason = item.stash.get(MISSING, None)
    if reason is not None:
        pytest.fail(f"a required service is missing under CI=true: {reason}", pytrace=False)


@pytest.fixture(autouse=True)
def _clear_caches():
    """Rate-limit counters live in the cache; every test starts from zero."""
    for alias in settings.CACHES:
        caches[alias].clear()
    yield


@pytest.fixture(autouse=True)
def _rate_limit_windows_still(monkeypatch):
    """A rate limit counts attempts in windows of its period (django-ratelimit), which roll
    over on the clock: a test posting three times against "2/m" found its third attempt
    allowed whenever a window ended between two of them (for a 60 s window, about once in
    three hundred runs of a test that takes a fifth of a second). The windows stay where
    the test began them; a test that moves the clock (time-machine) moves them with it."""
    import time

    import django_ratelimit.core
    from time_machine import escape_hatch

    began = time.time()

    class WindowClock:
        @staticmethod
        def time() -> float:
            return time.time() if escape_hatch.is_travelling() else began

    monkeypatch.setattr(django_ratelimit.core, "time", WindowClock)


@pytest.fixture(autouse=True)
def _on_commit_now(request, monkeypatch):
    """In tests wrapped in a transaction nothing ever commits, so the outbox's on_commit
    hook would never fire. Run it at once there; tests that use real transactions
    (transactional_db, live_server, django_db(transaction=True)) keep Django's real
    behaviour."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        return
    monkeypatch.setattr(
        "django.db.transaction.on_commit", lambda func, using=None, robust=False: func()
    )


@pytest.fixture(autouse=True)
def _answers_match_the_schema(request, monkeypatch):
    """Every answer a test client gets from the JSON API is checked against the OpenAPI
    schema the API serves (``tests.core.schema_conformance``): a status the operation does
    not document, or a body its schema does not describe, fails the test at that request.

    ``@pytest.mark.schema_unchecked`` leaves a test out: one that provokes on purpose an
    answer no schema describes (DEBUG's own error page).
    """
    if request.node.get_closest_marker("schema_unchecked"):
        return
    from django.test.client import Client

    from tests.core import schema_conformance

    sent = Client.request

    def checked(self, **kwargs):
        response = sent(self, **kwargs)
        schema_conformance.check(response)
        return response

    monkeypatch.setattr(Client, "request", checked)


@pytest.fixture
def no_inline_sealing(monkeypatch):
    """No audit chaining inside the test's requests. Without a worker, a request that records
    an event chains the waiting ones once at least ``SEAL_INTERVAL`` (1 s) has passed since
    the last time: on a loaded machine that may land in any request, so tests that count a
    request's statements turn it off."""
    from audit import chain

    monkeypatch.setattr(chain, "_inline_last", [float("inf")])


@pytest.fixture
def password():
    return STRONG_PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(password=STRONG_PASSWORD)


@pytest.fixture
def staff(db):
    return UserFactory(password=STRONG_PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def held(monkeypatch) -> list[int]:
    """Outbox rows are written but their delivery is not queued: a worker (the test)
    delivers them; the ids queued, in order."""
    queued: list[int] = []
    monkeypatch.setattr("authsuite.outbox.enqueue.queue_delivery", queued.append)
    return queued
