"""Sign-in link and password-reset requests decided by the mail worker: the request looks no
account up and writes the same one outbox row for every address; delivery decides what it
becomes, once (one token, one event, however often it runs), as the request that asked
(its IP, user agent and request id), and delivers it like any message.

``held`` keeps delivery out of the request, as in a deployment with a worker; the test
then delivers as the worker would (elsewhere in the tests, delivery runs in the request).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import set_script_prefix

from accounts import signals
from accounts.app_settings import app_settings
from accounts.flows import link_request
from accounts.flows.account import account_deactivate
from accounts.flows.mail import LINK_DEAD
from accounts.models import EmailAddress, OneTimeToken
from audit.models import Event
from authsuite import context, crypto, outbox
from authsuite.models import OutboxMessage
from authsuite.outbox import registry
from tests.accounts.support import api_post, freeze
from tests.accounts.test_link_request import (
    CASES,
    PURPOSES,
    account_events,
    address_for,
    ask,
    last_event,
)
from tests.core.test_outbox import FlakyBackend
from tests.helpers import LINK_RE, outbox_for, token_from

pytestmark = pytest.mark.django_db
User = get_user_model()
Status = OutboxMessage.Status

ASKING = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_REQUEST_ID": "asking-request-0042",
          "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                             "Firefox/128.0"}
ACTIONS = {"known": {"magic_link": "accounts.magic_link.requested",
                     "password_reset": "accounts.password.reset_requested"},
           "unknown": "accounts.unknown_address"}
CONFIRM = {"magic_link": "/accounts/magic-link/", "password_reset": "/accounts/password/reset/"}


def deliver(ids: list[int]) -> list[str]:
    """Deliver as the mail worker does: outside any request."""
    assert context.current() == context.RequestContext()
    return [outbox.mail_deliver(message_id) for message_id in ids]


def follow(purpose: str, url: str):
    """Use the link ``url`` mailed for ``purpose``: sign in, or set a new password."""
    if purpose == "magic_link":
        return api_post(Client(), "magic-link/confirm/", {"token": token_from(url)})
    return api_post(Client(), "password/reset/confirm/", {
        "token": token_from(url), "new_password": "an entirely new passphrase 42"})


def action_for(case: str, purpose: str) -> str:
    if case == "known":
        return ACTIONS["known"][purpose]
    return ACTIONS["unknown"] if case == "unknown" else "accounts.link.withheld"


def shape(sql: str) -> str:
    """A statement without its values: what it does, not with which address or time."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r'"s\d+_x\d+"', "SAVEPOINT_NAME", sql)
    return re.sub(r"\b\d+(\.\d+)?\b", "?", sql)


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_the_request_runs_the_same_statements_for_every_address(client, purpose, via, held,
                                                                no_inline_sealing):
    ask(client, purpose, "first@example.com", via)  # the session's and the caches' first
    statements = {}
    for case in CASES:
        email, _account = address_for(case)
        with CaptureQueriesContext(connection) as queries:
            ask(client, purpose, email, via)
        statements[case] = [shape(q["sql"]) for q in queries.captured_queries]

    assert all(s == statements["known"] for s in statements.values()), statements
    # None of them looks an account, an address or a token up: that is the worker's to do.
    tables = {User._meta.db_table, EmailAddress._meta.db_table, OneTimeToken._meta.db_table,
              Event._meta.db_table}
    for sql in statements["known"]:
        assert not any(table in sql for table in tables), sql
    assert any(OutboxMessage._meta.db_table in sql for sql in statements["known"])


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("case", CASES)
def test_the_request_writes_one_row_and_the_worker_decides_it(client, purpose, case, held):
    email, account = address_for(case)
    start = last_event()

    assert ask(client, purpose, email, "api").status_code == 202

    [message] = OutboxMessage.objects.all()
    assert held == [message.pk]
    assert (message.resolver, message.to, message.user_id) == ("accounts.link_request", email,
                                                              None)
    assert (message.context["email"], message.context["purpose"]) == (email, purpose)
    assert account_events(after=start) == []
    assert not OneTimeToken.objects.exists()
    assert mail.outbox == []

    assert deliver(held) == [Status.SENT]

    [event] = account_events(after=start)
    assert event.action == action_for(case, purpose)
    [sent] = outbox_for(email)
    assert bool(LINK_RE.search(sent.body) and CONFIRM[purpose] in sent.body) is (case == "known")
    assert OneTimeToken.objects.count() == (case == "known")
    stored = OutboxMessage.objects.get()
    assert (stored.resolver, stored.status) == ("", Status.SENT)
    assert stored.user_id == (account.pk if account else None)


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_however_often_it_is_delivered_one_token_and_one_event(client, purpose, held, user,
                                                               time_machine, settings):
    freeze(time_machine)
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    start = last_event()
    ask(client, purpose, user.email, "api")
    time_machine.shift(61)

    results = deliver([*held, *held])
    outbox.outbox_sweep()  # queues nothing more: it was delivered
    results += deliver(held)

    assert results == [Status.SENT, "skipped", "skipped"]
    assert len(account_events(after=start)) == 1
    assert OneTimeToken.objects.filter(user=user).count() == 1
    assert len(outbox_for(user.email)) == 1


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("case", CASES)
def test_the_events_say_who_asked_from_where(purpose, case, held):
    email, account = address_for(case)
    start = last_event()
    assert ask(Client(**ASKING), purpose, email, "api").status_code == 202

    deliver(held)

    [event] = account_events(after=start)
    assert (event.ip, event.user_agent, event.request_id) == (
        ASKING["REMOTE_ADDR"], ASKING["HTTP_USER_AGENT"], ASKING["HTTP_X_REQUEST_ID"])
    assert event.actor_id == (str(account.pk) if account is not None else "")
    if case == "known":  # the link's mail says from where it was asked for
        [sent] = outbox_for(email)
        assert "203.0.113.9" in sent.body and "Firefox" in sent.body


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_the_signals_from_the_worker_carry_no_request(client, purpose, user, held):
    calls = []

    def receive(sender, signal, **kwargs):
        calls.append(kwargs)

    names = ["magic_link_requested", "password_reset_requested", "unknown_address_asked",
             "link_withheld"]
    for name in names:
        getattr(signals, name).connect(receive, weak=False, dispatch_uid=f"test.{name}")
    try:
        ask(client, purpose, user.email, "api")
        ask(client, purpose, "nobody@example.com", "api")
        deliver(held)
    finally:
        for name in names:
            getattr(signals, name).disconnect(dispatch_uid=f"test.{name}")

    assert len(calls) == 2
    assert all(kwargs["request"] is None for kwargs in calls)
    # The docstring says which signals the worker sends.
    for name in names:
        assert f"``{name}``" in signals.__doc__.split("\n- ")[0]


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_the_link_lives_from_when_the_worker_issues_it(client, purpose, user, held,
                                                       time_machine):
    asked_at = freeze(time_machine)
    ask(client, purpose, user.email, "api")
    time_machine.shift(300)  # a busy queue

    deliver(held)

    token = OneTimeToken.objects.get(user=user)
    timeout = (app_settings.MAGIC_LINK_TIMEOUT if purpose == "magic_link"
               else app_settings.PASSWORD_RESET_TIMEOUT)
    issued = asked_at + timedelta(seconds=300)
    assert (token.created_at, token.expires_at) == (issued, issued + timedelta(seconds=timeout))
    # The mail says when it was asked for.
    [sent] = outbox_for(user.email)
    assert asked_at.strftime("%Y-%m-%d %H:%M UTC") in sent.body


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_the_link_opens_where_it_was_asked_for(purpose, user, held):
    set_script_prefix("/id/")  # as the WSGI handler sets it for SCRIPT_NAME "/id"
    try:
        assert ask(Client(), purpose, user.email, "api").status_code == 202
    finally:
        set_script_prefix("/")  # the worker's own

    deliver(held)

    [url] = LINK_RE.findall(outbox_for(user.email)[0].body)
    assert url.startswith(f"http://testserver/id{CONFIRM[purpose]}")
    assert OneTimeToken.objects.get(user=user).digest
    assert len(token_from(url)) >= 40


def test_the_link_opens_the_front_end_where_one_is_set(client, user, held, settings):
    settings.AUTHSUITE_ACCOUNTS_FRONTEND_URLS = {
        "magic_link": "https://app.example.com/sign-in/{token}"}
    ask(client, "magic_link", user.email, "api")

    deliver(held)

    [url] = LINK_RE.findall(outbox_for(user.email)[0].body)
    assert url.startswith("https://app.example.com/sign-in/")
    assert api_post(Client(), "magic-link/confirm/", {"token": token_from(url)}).status_code == 200


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_an_smtp_failure_then_a_retry_resends_the_same_link(client, purpose, user, held,
                                                           time_machine, settings):
    freeze(time_machine)
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    start = last_event()
    ask(client, purpose, user.email, "api")

    with pytest.raises(outbox.DeliveryDeferred):
        deliver(held)
    time_machine.shift(30)
    assert deliver(held) == [Status.SENT]

    [sent] = FlakyBackend.sent
    [url] = LINK_RE.findall(sent.body)
    [token] = OneTimeToken.objects.filter(user=user)
    assert token.voided_at is None and token.used_at is None
    assert len(account_events(after=start)) == 1
    # The link mailed is the token issued: it works.
    response = follow(purpose, url)
    assert response.status_code == 200, response.content


def test_the_sweeper_decides_and_delivers_a_request_whose_task_was_lost(
        client, user, held, time_machine, settings):
    freeze(time_machine)
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    ask(client, "magic_link", user.email, "api")
    held.clear()  # the broker lost it
    time_machine.shift(61)

    assert outbox.outbox_sweep() == 1
    assert deliver(held) == [Status.SENT]

    [url] = LINK_RE.findall(outbox_for(user.email)[0].body)
    assert api_post(Client(), "magic-link/confirm/", {"token": token_from(url)}).status_code == 200


def test_a_newer_link_voids_the_older_in_the_order_the_worker_issues_them(client, user, held):
    ask(client, "magic_link", user.email, "api")
    ask(client, "magic_link", user.email, "api")

    deliver(held)

    first, second = (token_from(url) for m in outbox_for(user.email)
                     for url in LINK_RE.findall(m.body))
    assert api_post(Client(), "magic-link/confirm/", {"token": first}).status_code == 400
    assert api_post(Client(), "magic-link/confirm/", {"token": second}).status_code == 200
    assert api_post(Client(), "magic-link/confirm/", {"token": second}).status_code == 400


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("used_first", [False, True])
def test_a_request_decided_after_a_newer_ones_link_leaves_that_link_standing(
        client, purpose, used_first, user, held):
    # The older request is decided last: its task was lost and the sweeper found it, or
    # its decision failed once and was retried. The newer request's link went out first.
    start = last_event()
    ask(client, purpose, user.email, "api")
    ask(client, purpose, user.email, "api")
    older, newer = held

    assert deliver([newer]) == [Status.SENT]
    [url] = LINK_RE.findall(outbox_for(user.email)[0].body)
    if used_first:
        assert follow(purpose, url).status_code == 200
    assert deliver([older]) == [outbox.NOTHING_TO_SEND]

    # Answered by the newer link: no link of its own voids that one, none comes after it
    # was used (a reset link once the password is reset), and nothing more is recorded.
    assert len(outbox_for(user.email)) == 1
    assert not OutboxMessage.objects.filter(pk=older).exists()
    assert len([e for e in account_events(after=start) if e.action == action_for(
        "known", purpose)]) == 1
    live = OneTimeToken.objects.filter(user=user, used_at=None, voided_at=None)
    assert live.count() == (0 if used_first else 1)
    if not used_first:
        assert follow(purpose, url).status_code == 200


@pytest.mark.parametrize("case", ["known", "unknown"])
def test_a_sign_in_link_asked_for_before_links_were_turned_off_is_not_sent(
        client, case, user, held, settings):
    start = last_event()
    ask(client, "magic_link", user.email if case == "known" else "nobody@example.com", "api")
    settings.AUTHSUITE_ACCOUNTS_MAGIC_LINK_ENABLED = False

    assert deliver(held) == [outbox.NOTHING_TO_SEND]

    # No link its address could not use, no notice about one, nothing recorded.
    assert mail.outbox == []
    assert not OneTimeToken.objects.filter(user=user).exists()
    assert not account_events(after=start)


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("data", [{}, {"email": "not an address"}, {"email": ["a@b.c"]},
                                  {"email": "a" * 300 + "@example.com"}, {"email": None}])
def test_bad_input_is_refused_before_anything_is_queued(client, purpose, data, held):
    path = PURPOSES[purpose][0]
    response = client.post("/api/auth/v1/" + path, json.dumps(data),
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]
    assert not OutboxMessage.objects.exists() and held == []


# --- requests and links that stopped being of use before they were sent ---------------------

LIFETIMES = {"magic_link": "MAGIC_LINK_TIMEOUT", "password_reset": "PASSWORD_RESET_TIMEOUT"}


def linked(messages) -> list[str]:
    """The purposes of the links in ``messages``, one per link."""
    return [purpose for sent in messages for url in LINK_RE.findall(sent.body)
            for purpose, path in CONFIRM.items() if path in url]


def lifetime(purpose: str) -> int:
    """The lifetime, in seconds, of the link ``purpose`` asks for."""
    return getattr(app_settings, LIFETIMES[purpose])


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_every_request_expires_alike_whatever_the_address(client, purpose, held, time_machine):
    asked_at = freeze(time_machine)
    for case in CASES:
        ask(client, purpose, address_for(case)[0], "api")

    expiries = set(OutboxMessage.objects.values_list("expires_at", flat=True))
    assert expiries == {asked_at + timedelta(seconds=lifetime(purpose))}


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("case", CASES)
def test_a_request_undecided_when_its_link_would_have_expired_is_dropped(
        client, purpose, case, held, time_machine, monkeypatch, caplog):
    # The workers or the broker were down for longer than the link asked for lives: decided
    # now, it would issue a fresh link (or mail a notice) long after anyone waited for it.
    decided = []
    resolve = registry.resolvers[link_request.RESOLVER]
    monkeypatch.setitem(registry.resolvers, link_request.RESOLVER,
                        lambda message: decided.append(message.pk) or resolve(message))
    email, _account = address_for(case)
    freeze(time_machine)
    start = last_event()
    ask(client, purpose, email, "api")
    time_machine.shift(lifetime(purpose))

    assert deliver(held) == [Status.FAILED]

    assert decided == []  # no account looked up, nothing recorded or issued
    assert account_events(after=start) == []
    assert not OneTimeToken.objects.exists()
    assert mail.outbox == []
    stored = OutboxMessage.objects.get()
    assert (stored.status, stored.resolver, stored.last_error) == (
        Status.FAILED, link_request.RESOLVER, "The request expired before it could be answered.")
    assert "expired before it could be answered" in caplog.text
    assert deliver(held) == ["skipped"]


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_a_request_is_decided_while_its_link_would_still_work(client, purpose, user, held,
                                                             time_machine):
    freeze(time_machine)
    ask(client, purpose, user.email, "api")
    time_machine.shift(lifetime(purpose) - 1)

    assert deliver(held) == [Status.SENT]

    [url] = LINK_RE.findall(outbox_for(user.email)[0].body)
    assert follow(purpose, url).status_code == 200  # the link lives from its decision


def test_after_an_outage_the_sweeper_answers_only_the_requests_still_of_use(
        client, user, held, time_machine, settings):
    asked_at = freeze(time_machine)
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    ask(client, "magic_link", user.email, "api")  # a sign-in link lives 10 minutes
    ask(client, "password_reset", user.email, "api")  # a reset link an hour
    time_machine.shift(20 * 60)
    ask(client, "magic_link", user.email, "api")  # asked again
    old_sign_in, reset, new_sign_in = held
    held.clear()  # the broker lost them all
    time_machine.shift(5 * 60)

    assert outbox.outbox_sweep() == 3
    results = dict(zip(held, deliver(held), strict=True))

    assert results == {old_sign_in: Status.FAILED, reset: Status.SENT, new_sign_in: Status.SENT}
    assert OneTimeToken.objects.filter(user=user).count() == 2
    assert sorted(linked(outbox_for(user.email))) == ["magic_link", "password_reset"]
    dropped = OutboxMessage.objects.get(pk=old_sign_in)
    assert (dropped.created_at, dropped.last_error) == (
        asked_at, "The request expired before it could be answered.")


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("meanwhile", ["newer_link", "used", "address_changed", "disabled"])
def test_a_retry_after_its_link_stopped_working_sends_nothing(
        client, purpose, meanwhile, user, held, time_machine, settings):
    freeze(time_machine)
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    ask(client, purpose, user.email, "api")
    [first] = held
    with pytest.raises(outbox.DeliveryDeferred):
        deliver([first])  # its link is issued; the mail server refuses it for now

    if meanwhile == "newer_link":
        ask(client, purpose, user.email, "api")
        assert deliver(held[1:]) == [Status.SENT]
    elif meanwhile == "used":
        # The failed attempt reached the mailbox after all (the server's reply was lost),
        # and the link was used.
        sealed = OutboxMessage.objects.get(pk=first).sealed_context
        assert follow(purpose, json.loads(crypto.unseal(sealed))["url"]).status_code == 200
    elif meanwhile == "address_changed":
        User.objects.filter(pk=user.pk).update(email="moved@example.com")
    else:
        account_deactivate(user)
    time_machine.shift(30)

    assert deliver([first]) == [Status.FAILED]

    stored = OutboxMessage.objects.get(pk=first)
    assert stored.last_error == LINK_DEAD
    assert (stored.sealed_context, stored.secret_erased) == ("", True)
    links = [url for sent in FlakyBackend.sent for url in LINK_RE.findall(sent.body)
             if CONFIRM[purpose] in url]
    if meanwhile == "newer_link":  # only the newer link went out, and it works
        [url] = links
        assert follow(purpose, url).status_code == 200
    else:
        assert links == []


def test_a_link_whose_token_still_works_is_sent_on_retry(client, user, held, time_machine,
                                                        settings):
    freeze(time_machine)
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 1, []
    ask(client, "magic_link", user.email, "api")
    with pytest.raises(outbox.DeliveryDeferred):
        deliver(held)
    # Another kind of link to the account voids nothing of this one's.
    ask(client, "password_reset", user.email, "api")
    time_machine.shift(30)

    assert deliver(held) == [Status.SENT, Status.SENT]
    assert sorted(linked(FlakyBackend.sent)) == ["magic_link", "password_reset"]
