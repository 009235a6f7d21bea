"""Races on PostgreSQL: assertions of one passkey verified at the same moment.

Each thread is a browser of its own (its own client, so its own database connection); a
barrier releases them together. Real transactions: a race needs commits to race with.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from audit.models import Event
from tests.accounts.test_concurrency import race
from tests.helpers import LINK_RE, outbox_for, token_from
from tests.passkeys.support import ORIGIN, login_options, post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BROWSERS = 4


def prepared(authenticator, count: int, steps: list[int]):
    """``count`` browsers, each holding an assertion signed in advance with its counter."""
    browsers = [Client() for _ in range(count)]
    assertions = []
    for browser, step in zip(browsers, steps, strict=True):
        options = login_options(browser)
        credential = next(iter(authenticator.credentials.values()))
        start = credential.sign_count
        assertions.append(authenticator.get(options, origin=ORIGIN, counter_step=step))
        credential.sign_count = start  # every assertion counts up from the same value
    return browsers, assertions


def test_assertions_with_the_same_counter_at_once_pass_once(authenticator, passkey):
    browsers, assertions = prepared(authenticator, BROWSERS, [1] * BROWSERS)

    results = race(BROWSERS, lambda i: post(browsers[i], "passkeys/login/",
                                            {"credential": assertions[i]}))

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * (BROWSERS - 1), [r.content for r in results]
    codes = [r.json()["error"]["code"] for r in results if r.status_code == 400]
    assert codes == ["passkey_cloned"] * (BROWSERS - 1)
    passkey.refresh_from_db()
    assert passkey.sign_count == 1  # written once, by the one that passed
    assert passkey.flagged_at is not None  # the same counter twice is what a clone does
    # The first refused one flags the passkey; those after it find it flagged already.
    events = Event.objects.filter(action="passkeys.clone_detected")
    flagged = Event.objects.filter(action="passkeys.failed", data__contains='"flagged"')
    assert events.count() >= 1 and events.count() + flagged.count() == BROWSERS - 1
    assert {json.loads(e.data)["stored_count"] for e in events} == {1}
    assert Event.objects.filter(action="passkeys.used").count() == 1


def test_increasing_counters_at_once_leave_the_highest_or_flag(authenticator, passkey):
    """Counters 1..4 verified in whatever order the race gives: each one that passes saw a
    lower stored counter, and the stored counter is the highest that passed."""
    browsers, assertions = prepared(authenticator, BROWSERS, [1, 2, 3, 4])

    results = race(BROWSERS, lambda i: post(browsers[i], "passkeys/login/",
                                            {"credential": assertions[i]}))

    passed = [i + 1 for i, r in enumerate(results) if r.status_code == 200]
    refused = [r.json()["error"]["code"] for r in results if r.status_code != 200]
    assert passed and set(refused) <= {"passkey_cloned"}
    passkey.refresh_from_db()
    assert passkey.sign_count == max(passed)
    assert Event.objects.filter(action="passkeys.used").count() == len(passed)
    assert (passkey.flagged_at is not None) == bool(refused)


def test_one_assertion_sent_from_many_browsers_at_once(authenticator, passkey):
    """The same response sent in parallel with one session (a double submit, or a thief
    holding the cookie): the challenge is taken once."""
    browser = Client()
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    cookie = browser.cookies
    clients = []
    for _ in range(BROWSERS):
        client = Client()
        client.cookies = cookie
        clients.append(client)

    results = race(BROWSERS, lambda i: post(clients[i], "passkeys/login/",
                                            {"credential": assertion}))

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * (BROWSERS - 1), [r.content for r in results]
    codes = {r.json()["error"]["code"] for r in results if r.status_code == 400}
    # A loser that finishes after the winner rotated the session key cannot save the
    # session it loaded (Django's SessionInterrupted, a 400) instead of being told so.
    assert codes <= {"passkey_challenge_missing", "malformed_request"}
    passkey.refresh_from_db()
    assert passkey.sign_count == 1
    assert passkey.flagged_at is None  # the challenge stopped the copies before the counter


def test_only_the_passkey_row_is_locked(authenticator, passkey):
    """FOR UPDATE over the join with the user would also lock the account's row, holding
    up anything else that touches it (another sign-in's last_login) during the ceremony."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    browser = Client()
    options = login_options(browser)
    with CaptureQueriesContext(connection) as queries:
        response = post(browser, "passkeys/login/",
                        {"credential": authenticator.get(options, origin=ORIGIN)})
    assert response.status_code == 200
    # The ceremony's own locks: the audit sealer may also run after the commit, on its own
    # row (the chain head), whenever its interval has passed.
    locks = [q["sql"] for q in queries.captured_queries
             if "FOR UPDATE" in q["sql"] and 'FROM "passkeys_passkey"' in q["sql"]]
    assert locks and all('FOR UPDATE OF "passkeys_passkey"' in sql for sql in locks), locks


@pytest.mark.django_db(transaction=True)
def test_sign_ups_of_one_new_address_at_once_leave_one_live_link(settings):
    """A new address has no row for the sign-up to lock: the one-live-link constraint
    refuses a link stored at the same moment as another, whose link stands."""
    from authsuite import crypto
    from authsuite.models import OutboxMessage
    from passkeys import signup
    from passkeys.models import PendingSignup

    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    email = "racer@example.com"

    codes = race(BROWSERS, lambda i: Client(REMOTE_ADDR=f"203.0.113.{i + 1}").post(
        "/passkeys/signup/", {"email": email}).status_code)

    assert codes == [302] * BROWSERS
    pending = PendingSignup.objects.filter(email=email)
    live = pending.get(used_at__isnull=True, voided_at__isnull=True)
    # Every stored link was mailed unless a newer one voided it before its mail went out
    # (the outbox guard), and the live one was.
    rows = OutboxMessage.objects.filter(to=email)
    assert rows.count() == pending.count()
    assert not rows.exclude(status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.FAILED])
    assert set(rows.filter(status=OutboxMessage.Status.FAILED).values_list(
        "last_error", flat=True)) <= {signup.LINK_DEAD}
    mailed = [urlsplit(LINK_RE.findall(m.body)[0]).path for m in outbox_for(email)]
    assert len(mailed) == rows.filter(status=OutboxMessage.Status.SENT).count()
    assert live.digest in {crypto.token_digest(token_from(path), purpose=signup.DIGEST_PURPOSE)
                           for path in mailed}
