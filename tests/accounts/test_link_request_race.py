"""Races on PostgreSQL: a queued sign-in or reset link request delivered by several workers
at once (a retried task, the sweeper, a second worker) is decided once: one token, one
audit event. A decision waits for a change to its account under way (a new login address,
a deactivation, another request's decision) and decides on what it left.

Real transactions and threads, each with its own database connection.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import tokens
from accounts.flows import account, link_request
from accounts.flows.email import addresses, email_make_primary
from accounts.flows.link_request import RESOLVER
from accounts.flows.mail import mail_template
from accounts.models import EmailAddress, OneTimeToken
from authsuite import outbox
from authsuite.models import OutboxMessage
from authsuite.outbox import registry
from tests.accounts.support import api_post
from tests.accounts.test_link_request import account_events, last_event
from tests.helpers import meeting, outbox_for, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 4
PURPOSES = ["magic_link", "password_reset"]


def asked(purpose: str, email: str, held: list[int]) -> int:
    before = len(held)
    assert Client().post(reverse(f"accounts:{purpose}"), {"email": email}).status_code in (200, 302)
    [message_id] = held[before:]
    return message_id


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("left", ["pending", "claim_gone_stale"])
def test_many_workers_at_once_decide_it_once(user, purpose, left, held, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    start = last_event()
    message_id = asked(purpose, user.email, held)
    if left == "claim_gone_stale":  # a worker died holding it: every one may take it over
        OutboxMessage.objects.filter(pk=message_id).update(
            status=OutboxMessage.Status.SENDING, attempts=1,
            claimed_at=timezone.now() - timezone.timedelta(seconds=301))

    results = race(WORKERS, lambda i: outbox.mail_deliver(message_id))

    assert sorted(results) == ["sent"] + ["skipped"] * (WORKERS - 1)
    assert OneTimeToken.objects.filter(user=user).count() == 1
    assert len(account_events(after=start)) == 1
    assert len(outbox_for(user.email)) == 1


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_worker_taking_a_claim_over_mid_decision_waits_and_decides_nothing(
        user, purpose, held, settings):
    # Every claim is stale at once: the second worker takes the row over while the first
    # is still deciding it. It waits for the row lock, then finds it decided.
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 0
    start = last_event()
    message_id = asked(purpose, user.email, held)
    deciding = threading.Event()
    real = registry.resolvers[RESOLVER]

    def linger(message):
        decided = real(message)
        deciding.set()
        time.sleep(0.3)
        return decided

    registry.resolvers[RESOLVER] = linger
    try:
        def deliver(i: int) -> str:
            if i == 1:
                assert deciding.wait(timeout=10)
            return outbox.mail_deliver(message_id)

        results = race(2, deliver)
    finally:
        registry.resolvers[RESOLVER] = real

    # Sent at least once (a claim taken over may send it again), decided once, and
    # whoever sends it sends the message decided, with its link.
    assert "sent" in results and set(results) <= {"sent", "skipped"}
    assert OneTimeToken.objects.filter(user=user).count() == 1
    assert len(account_events(after=start)) == 1
    bodies = {m.body for m in mail.outbox}
    assert len(bodies) == 1 and "http://testserver/accounts/" in bodies.pop()


def live_tokens(user, **filters):
    return OneTimeToken.objects.filter(user=user, used_at=None, voided_at=None, **filters)


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("change", ["address", "deactivation"])
def test_a_change_to_the_account_under_way_is_waited_for(user, purpose, change, held,
                                                         monkeypatch):
    # The worker has found the account by the address; the account's owner (or staff) is
    # moving its login address elsewhere, or disabling it, and has voided its links but not
    # yet committed. The link must not be issued beside that change.
    old = user.email
    other = EmailAddress.objects.create(user=user, email="moved@example.com", verified=True)
    message_id = asked(purpose, old, held)
    looked_up, voided = threading.Event(), threading.Event()
    real_lookup = link_request.get_by_email

    def lookup(email):
        found = real_lookup(email)
        if not looked_up.is_set():
            looked_up.set()
            assert voided.wait(timeout=10)
        return found

    def after_voiding(real):
        def void(*args, **kwargs):
            done = real(*args, **kwargs)
            voided.set()
            time.sleep(0.5)  # still uncommitted: the decision goes on meanwhile
            return done
        return void

    monkeypatch.setattr(link_request, "get_by_email", lookup)
    if change == "address":
        monkeypatch.setattr(addresses, "links_to_old_address_void",
                            after_voiding(addresses.links_to_old_address_void))
    else:
        monkeypatch.setattr(tokens, "tokens_void", after_voiding(tokens.tokens_void))

    def act(i: int):
        if i == 0:
            return outbox.mail_deliver(message_id)
        assert looked_up.wait(timeout=10)
        if change == "address":
            return email_make_primary(None, user=user, address_id=other.pk)
        return account.account_deactivate(user)

    race(2, act)

    # Nothing that works was mailed to the address the account no longer signs in with,
    # or to the disabled account (enabling it again would have revived it).
    assert not live_tokens(user).exists()
    withheld = mail_template("not_login_address" if change == "address" else "account_inactive")
    answers = OutboxMessage.objects.filter(
        to=old, template__in=[mail_template(purpose), withheld])
    assert [m.template for m in answers] == [withheld]


@pytest.mark.parametrize("purpose", PURPOSES)
def test_two_requests_decided_at_once_leave_one_live_link(user, purpose, held, monkeypatch):
    # Two workers, one request each: both issue a token before either commits. Each voids
    # only the links it can see, so neither would void the other's.
    asked(purpose, user.email, held)
    asked(purpose, user.email, held)
    ids = list(held)
    meet = meeting()
    real = link_request.link_message

    def link_message(*args, **kwargs):
        message = real(*args, **kwargs)
        meet()
        return message

    monkeypatch.setattr(link_request, "link_message", link_message)

    results = race(2, lambda i: outbox.mail_deliver(ids[i]))

    assert "sent" in results
    assert live_tokens(user).count() == 1


@pytest.mark.parametrize("purpose", PURPOSES)
def test_a_link_used_while_a_new_one_is_decided_neither_deadlocks(user, purpose, held,
                                                                 monkeypatch):
    # The account's owner uses a link (sets a new password, signs in with one that also
    # drops a password nobody proved) while a request for another link of that kind is
    # decided: the decision voids the account's links, the use changes the account's row.
    if purpose == "magic_link":
        user.set_unusable_password()
        user.save()
        EmailAddress.objects.filter(user=user).update(verified=False)
        user.set_password("a password somebody else chose 42")
        user.save()
    message_id = asked(purpose, user.email, held)
    raw = tokens.token_issue(user=user, purpose=link_request.LINKS[purpose].token_purpose,
                             email=user.email, lifetime=600)
    meet = meeting()
    real_lock, real_consume = link_request.lock_user_row, tokens.token_consume

    def lock(u):
        real_lock(u)
        meet()

    def consume(*args, **kwargs):
        used = real_consume(*args, **kwargs)
        meet()
        return used

    monkeypatch.setattr(link_request, "lock_user_row", lock)
    monkeypatch.setattr(tokens, "token_consume", consume)
    path = ("magic-link/confirm/" if purpose == "magic_link" else "password/reset/confirm/")

    def act(i: int):
        if i == 0:
            return outbox.mail_deliver(message_id)
        return api_post(Client(), path, {"token": raw,
                                         "new_password": "an entirely new passphrase 42"})

    decided, used = race(2, act)

    # One goes first: the link is used and then voided, or voided and then refused.
    assert decided == "sent"
    assert used.status_code in (200, 400), used.content
    assert live_tokens(user).count() == 1
