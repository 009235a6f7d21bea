"""Helpers shared by the tests: reading what the suite mailed, racing threads, holding
rows locked while requests queue for them."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection, connections, transaction
from django.urls import reverse

LINK_RE = re.compile(r"https?://[^\s<>\"']+")

#: A staff member's browser acting in the admin: what the account's owner must never be shown.
STAFF_IP = "192.0.2.200"
STAFF_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/126.0.0.0 Safari/537.36")


def outbox_for(email: str) -> list:
    return [m for m in mail.outbox if email in m.to]


def last_link(email: str) -> str:
    """The path of the last link mailed to ``email``."""
    messages = outbox_for(email)
    assert messages, f"no mail for {email}"
    links = LINK_RE.findall(messages[-1].body)
    assert links, "the last message has no link"
    return urlsplit(links[0]).path


def open_link(client, link: str):
    """Open an emailed link as a browser does: the first GET moves the token into the
    session and redirects to the confirmation page. Returns (that page, its URL)."""
    response = client.get(link)
    assert response.status_code == 302, response.status_code
    url = response["Location"]
    assert token_from(link) not in url
    return client.get(url), url


LINK_REFERENCE_RE = re.compile(rb'name="link" value="([^"]*)"')


def link_form(page, **data) -> dict:
    """What the confirmation page's form posts: the reference to its link, and ``data``."""
    found = LINK_REFERENCE_RE.search(page.content)
    assert found, "the confirmation page has no link reference"
    return {"link": found.group(1).decode(), **data}


def token_from(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def meeting(linger: float = 2):
    """A place two racing requests meet: each call waits for the other's, at most ``linger``
    seconds, since a request that the other holds up on a lock never comes."""
    barrier = threading.Barrier(2)

    def wait() -> None:
        try:
            barrier.wait(timeout=linger)
        except threading.BrokenBarrierError:
            pass  # the other request waits for this one to commit: nothing to meet

    return wait


def race(count: int, action) -> list:
    """Run ``action(i)`` in ``count`` threads released together; return their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = action(i)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert not errors, errors
    return results


def user_admin_url(view: str, *args) -> str:
    """The admin URL of the project's user model: ``changelist``, ``add``, ``change``..."""
    opts = get_user_model()._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def waiting_on_locks() -> int:
    """Backends of this test database waiting for a lock (a fresh look each time: a
    transaction otherwise sees one snapshot of the activity view)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def held_then_raced(held, actions: list, meanwhile=None) -> list:
    """Run ``actions`` in threads of their own while this connection holds the rows of the
    queryset ``held`` locked (PostgreSQL), each started once the one before waits for a
    lock (that lock, or one an earlier action took), so that they queue in the order given;
    then (after ``meanwhile``, run in the lock's transaction) let them go. Whatever they read
    before the lock, they have all read: a race between a read and a write made certain
    rather than left to timing."""
    results: list = [None] * len(actions)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = actions[i]()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    with transaction.atomic():
        list(held.select_for_update())
        deadline = time.monotonic() + 20
        for started, thread in enumerate(threads, 1):
            thread.start()
            while waiting_on_locks() < started and time.monotonic() < deadline:
                time.sleep(0.05)
            assert waiting_on_locks() == started, "a request did not reach the locks"
        if meanwhile is not None:
            meanwhile()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert not errors, errors
    return results
