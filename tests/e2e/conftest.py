"""Real-browser fixtures: Chromium driven by Playwright against pytest-django's live server.

Mail goes to the demo mailbox (``authsuite.mailbox``) so the browser reads it at /mailbox/,
a page that only answers with DEBUG on.
"""

from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CSP_MARKER = "Content Security Policy"


@pytest.fixture(scope="module")
def browser():
    """One Chromium per module; each test gets its own context (cookies, storage)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    # Sync Playwright keeps an asyncio loop on this thread; Django's ORM would then refuse
    # every query from the test body, though nothing here runs concurrently.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()


class Console:
    """Console messages and page errors of one page, to assert on CSP violations."""

    def __init__(self):
        self.messages: list[str] = []

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if CSP_MARKER in m]


@pytest.fixture
def console():
    return Console()


@pytest.fixture
def page(browser, live_server, console, mailbox_settings):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda message: console.messages.append(message.text))
    page.on("pageerror", lambda error: console.messages.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def mailbox_settings(settings):
    """The mailbox backend and page (DEBUG-only) for the duration of a test."""
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "authsuite.mailbox.backends.MailboxBackend"
    return settings
