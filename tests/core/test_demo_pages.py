"""The demo's own pages (home, the DEBUG-only mailbox) read, and only read."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/mailbox/", "/mailbox/1/"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options", "trace"])
def test_demo_pages_answer_only_get_and_head(settings, path, method):
    settings.DEBUG = True
    assert getattr(Client(), method)(path).status_code == 405


def test_the_mailbox_is_there_only_with_debug(settings):
    settings.DEBUG = True
    assert Client().get("/mailbox/").status_code == 200
    assert Client().head("/mailbox/").status_code == 200
    settings.DEBUG = False
    assert Client().get("/mailbox/").status_code == 404
