"""Fixtures the core tests share."""

from __future__ import annotations

import pytest

from authsuite import outbox
from authsuite.celery import app as celery_app


@pytest.fixture
def eager_celery():
    """Tasks run in this process right away, whatever broker the environment names."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def held(monkeypatch) -> list[int]:
    """Outbox rows are written but their delivery is not queued: a worker (the test)
    delivers them; the ids queued, in order."""
    queued: list[int] = []
    monkeypatch.setattr(outbox, "_queue", queued.append)
    return queued
