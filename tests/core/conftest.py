"""Fixtures the core tests share."""

from __future__ import annotations

import pytest

from authsuite.celery import app as celery_app


@pytest.fixture
def eager_celery():
    """Tasks run in this process right away, whatever broker the environment names."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
