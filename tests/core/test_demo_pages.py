"""The demo's own pages (home, the DEBUG-only mailbox) read, and only read."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_script_prefix, set_script_prefix

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


def test_the_home_page_links_where_the_pages_are_served(settings):
    """Served under a sub-path (FORCE_SCRIPT_NAME, the server's SCRIPT_NAME), its links
    follow the URLconf instead of naming the site's root."""
    settings.FORCE_SCRIPT_NAME = "/app"
    before = get_script_prefix()
    set_script_prefix("/app/")
    try:
        page = Client().get("/").content.decode()
    finally:
        set_script_prefix(before)

    for href in ["/app/api/auth/v1/docs/", "/app/mailbox/", "/app/admin/", "/app/accounts/login/"]:
        assert f'href="{href}"' in page, href
    assert 'href="/api/' not in page and 'href="/admin/' not in page


def test_the_demo_pages_are_never_stored(settings, user):
    """The home page names the signed-in account, and the mailbox holds sign-in links: neither
    said anything about caching, so a browser or proxy could keep them."""
    from authsuite.mailbox.models import Message

    settings.DEBUG = True
    client = Client()
    client.force_login(user)
    mail = Message.objects.create(subject="Sign in", from_email="a@example.com", to=user.email,
                                  body="https://testserver/accounts/magic-link/" + "A" * 43)
    home = client.get("/")
    assert user.email.encode() in home.content
    assert "no-store" in home["Cache-Control"]
    inbox = client.get("/mailbox/")
    assert inbox.status_code == 200
    assert "no-store" in inbox["Cache-Control"]
    message = client.get(f"/mailbox/{mail.pk}/")
    assert b"/accounts/magic-link/" in message.content
    assert "no-store" in message["Cache-Control"]
