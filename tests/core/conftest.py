"""Fixtures the core tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from authsuite.celery import app as celery_app

#: Templates of messages the outbox tests queue (``outbox_test/...``).
TEMPLATES_DIR = Path(__file__).parent / "templates"


@pytest.fixture
def eager_celery():
    """Tasks run in this process right away, whatever broker the environment names."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def outbox_templates():
    """The outbox tests' message templates, a site name and a sender with a display name."""
    engine = {**settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}
    with override_settings(TEMPLATES=[engine], AUTHSUITE_SITE_NAME="Example ID",
                           AUTHSUITE_DEFAULT_FROM_EMAIL="Example ID <id@example.com>"):
        yield
