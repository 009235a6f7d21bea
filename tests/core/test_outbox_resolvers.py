"""Outbox rows whose message is decided at delivery: decided once, in one transaction with
what the decision writes, under the asking request's context, then delivered, retried and
swept as any message; nothing decided twice, nothing lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.http import HttpResponse
from django.test import override_settings
from django.urls import get_script_prefix, set_script_prefix

from authsuite import context, outbox
from authsuite.models import OutboxMessage
from authsuite.outbox import claims, delivery, registry
from tests.core.test_outbox import FlakyBackend

Status = OutboxMessage.Status
TEMPLATES_DIR = Path(__file__).parent / "templates"
GREETING = "outbox_test/greeting"
RESOLVER = "outbox_test.greeting_request"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "https://id.example.com/accounts/magic-link/dEcIdEd-t0ken-value/"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture(autouse=True)
def test_templates():
    engine = {**settings.TEMPLATES[0], "DIRS": [TEMPLATES_DIR]}
    with override_settings(TEMPLATES=[engine], AUTHSUITE_SITE_NAME="Example ID"):
        yield


class Decider:
    """A resolver that records each decision (and what it saw) and writes a row of its own
    (a group), so a decision that did not stay can be seen to leave nothing behind."""

    def __init__(self):
        self.calls: list[dict] = []
        self.send = True
        self.fail = False

    def __call__(self, message: OutboxMessage) -> dict | None:
        ctx = context.current()
        self.calls.append({"ip": ctx.ip, "user_agent": ctx.user_agent,
                           "request_id": ctx.request_id, "session_ref": ctx.session_ref,
                           "request": context.current_request(),
                           "script_prefix": get_script_prefix()})
        Group.objects.create(name=f"decided {message.pk} #{len(self.calls)}")
        if self.fail:
            raise RuntimeError("the decision failed")
        if not self.send:
            return None
        return {"template": GREETING, "to": message.context["name"].lower() + "@example.com",
                "context": {"name": message.context["name"]}, "secrets": {"url": SECRET_URL}}


@pytest.fixture
def decider():
    resolve = Decider()
    outbox.resolver_register(RESOLVER, resolve)
    yield resolve
    registry.resolvers.pop(RESOLVER, None)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def ask(name: str = "Ann", request=None) -> OutboxMessage:
    return outbox.mail_enqueue_unresolved(resolver=RESOLVER, to=f"{name.lower()}@example.com",
                                          context={"name": name}, request=request)


def row(message: OutboxMessage) -> OutboxMessage:
    return OutboxMessage.objects.get(pk=message.pk)


def test_the_first_delivery_decides_the_row_then_sends_it_as_any_message(decider, held):
    message = ask()
    assert (message.resolver, message.template, message.sealed_context) == (RESOLVER, RESOLVER, "")
    assert held == [message.pk]
    assert decider.calls == [] and mail.outbox == []

    assert outbox.mail_deliver(message.pk) == Status.SENT

    assert len(decider.calls) == 1
    [sent] = mail.outbox
    assert sent.to == ["ann@example.com"] and SECRET_URL in sent.body
    stored = row(message)
    assert (stored.resolver, stored.template, stored.status) == ("", GREETING, Status.SENT)
    assert stored.context == {"name": "Ann"}  # the request's context is not kept
    assert stored.sealed_context == ""


def test_delivering_again_decides_nothing_more(decider, held):
    message = ask()
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert outbox.outbox_sweep() == 0
    assert len(decider.calls) == 1 and len(mail.outbox) == 1
    assert Group.objects.count() == 1


def test_a_decision_to_send_nothing_removes_the_row_and_keeps_what_it_wrote(decider, held):
    decider.send = False
    message = ask()

    assert outbox.mail_deliver(message.pk) == outbox.NOTHING_TO_SEND

    assert not OutboxMessage.objects.exists()
    assert Group.objects.count() == 1
    assert mail.outbox == []
    assert outbox.mail_deliver(message.pk) == "skipped"


def test_a_failed_send_resends_the_decided_message_without_deciding_again(
        decider, held, frozen, settings):
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    FlakyBackend.failures, FlakyBackend.sent = 2, []
    message = ask()

    for backoff in (30, 60):
        with pytest.raises(outbox.DeliveryDeferred):
            outbox.mail_deliver(message.pk)
        stored = row(message)
        assert (stored.resolver, stored.status) == ("", Status.PENDING)
        assert stored.sealed_context  # the decided link, kept for the next attempt
        frozen.shift(backoff)
    assert outbox.mail_deliver(message.pk) == Status.SENT

    assert len(decider.calls) == 1
    [sent] = FlakyBackend.sent
    assert SECRET_URL in sent.body
    assert Group.objects.count() == 1


def test_a_failed_decision_leaves_nothing_and_is_decided_again_later(decider, held, frozen,
                                                                     settings):
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    decider.fail = True
    message = ask()

    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)

    assert deferred.value.countdown == 30
    stored = row(message)
    assert (stored.resolver, stored.status, stored.attempts) == (RESOLVER, Status.PENDING, 1)
    assert "RuntimeError" in stored.last_error
    assert not Group.objects.exists()  # undone with the decision
    decider.fail = False
    frozen.shift(30)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert Group.objects.count() == 1 and len(mail.outbox) == 1


def test_a_row_whose_resolver_is_gone_fails_at_once(held):
    message = outbox.mail_enqueue_unresolved(resolver="gone.app", to="ann@example.com",
                                             context={}, request=None)
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert "Unresolvable" in row(message).last_error
    assert mail.outbox == []


def test_a_worker_whose_claim_was_taken_over_decides_nothing(decider, held, frozen, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    message = ask()
    mine = claims.claim(message.pk)
    frozen.shift(301)
    theirs = claims.claim(message.pk)  # the first worker outlived its claim

    assert delivery.resolve(mine) == "skipped"
    assert decider.calls == [] and not Group.objects.exists()
    assert delivery.resolve(theirs) == "resolved"
    assert delivery.resolve(theirs) == "skipped"  # decided already
    assert len(decider.calls) == 1


def test_the_resolver_runs_as_the_request_that_asked(decider, held, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Asking Browser/1.0",
                      HTTP_X_REQUEST_ID="asking-request-0001")
    request.session = SessionStore()
    request.session.create()

    def view(request):
        ask(request=request)
        return HttpResponse()

    set_script_prefix("/id/")
    try:
        context.RequestContextMiddleware(view)(request)
    finally:
        set_script_prefix("/")
    [message_id] = held

    assert outbox.mail_deliver(message_id) == Status.SENT  # here, outside any request

    [seen] = decider.calls
    assert seen == {"ip": "203.0.113.7", "user_agent": "Asking Browser/1.0",
                    "request_id": "asking-request-0001",
                    "session_ref": context.session_ref(request), "request": None,
                    "script_prefix": "/id/"}
    assert seen["session_ref"]
    assert context.current() == context.RequestContext()  # and nothing of it stays
    assert get_script_prefix() == "/"


def test_the_request_context_is_kept_in_the_row_until_it_is_decided(decider, held, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Asking Browser/1.0")
    context.RequestContextMiddleware(lambda r: (ask(request=r), HttpResponse())[1])(request)
    [message_id] = held
    saved = OutboxMessage.objects.get(pk=message_id).context
    assert saved["request"]["ip"] == "203.0.113.7"
    assert json.loads(json.dumps(saved)) == saved  # plain JSON
    outbox.mail_deliver(message_id)
    assert "request" not in OutboxMessage.objects.get(pk=message_id).context


def test_the_sweeper_decides_and_delivers_a_request_whose_task_was_lost(
        decider, held, frozen, settings):
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    message = ask()  # its task never ran: held, as a broker outage would lose it
    frozen.shift(59)
    assert outbox.outbox_sweep() == 0
    frozen.shift(1)
    held.clear()

    assert outbox.outbox_sweep() == 1
    [message_id] = held
    assert outbox.mail_deliver(message_id) == Status.SENT

    assert len(decider.calls) == 1
    assert row(message).status == Status.SENT and len(mail.outbox) == 1


def test_staff_do_not_retry_a_request_that_failed_before_it_was_decided(decider, held, rf, staff):
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    from authsuite.admin import OutboxMessageAdmin

    undecided = ask("Ann")
    OutboxMessage.objects.filter(pk=undecided.pk).update(status=Status.FAILED, attempts=8)
    waiting = ask("Bob")
    held.clear()
    request = rf.post("/")
    request.user = staff
    request.session = {}
    request._messages = FallbackStorage(request)

    OutboxMessageAdmin(OutboxMessage, site).retry_now(request, OutboxMessage.objects.all())

    # A fresh link, long after it was asked for, is not what anyone is waiting for.
    assert held == [waiting.pk]
    assert row(undecided).status == Status.FAILED
    assert decider.calls == []


def test_a_request_still_undecided_when_it_expires_fails_without_being_decided(
        decider, held, frozen, caplog):
    # The workers or the broker were down for longer than an answer is of use.
    message = outbox.mail_enqueue_unresolved(
        resolver=RESOLVER, to="ann@example.com", context={"name": "Ann"}, request=None,
        expires_at=START + timedelta(seconds=600))
    frozen.shift(600)

    assert outbox.mail_deliver(message.pk) == Status.FAILED

    assert decider.calls == [] and not Group.objects.exists()  # the resolver never ran
    assert mail.outbox == []
    stored = row(message)
    assert (stored.status, stored.resolver, stored.last_error) == (
        Status.FAILED, RESOLVER, "The request expired before it could be answered.")
    assert "expired before it could be answered" in caplog.text
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert outbox.outbox_sweep() == 0


def test_a_request_is_decided_until_it_expires(decider, held, frozen):
    message = outbox.mail_enqueue_unresolved(
        resolver=RESOLVER, to="ann@example.com", context={"name": "Ann"}, request=None,
        expires_at=START + timedelta(seconds=600))
    frozen.shift(599)

    assert outbox.mail_deliver(message.pk) == Status.SENT

    assert len(decider.calls) == 1 and len(mail.outbox) == 1
    # The message decided takes the expiry of what it carries (none here), not the request's.
    assert row(message).expires_at is None
