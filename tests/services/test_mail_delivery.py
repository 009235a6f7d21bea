"""Email through the real path: outbox row → Redis broker → Celery worker → SMTP server.

The web side runs in the test process on PostgreSQL; the worker is a separate process on the
same test database, delivering to a local SMTP server that the tests read, refuse or hold.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import EmailAddress
from authsuite.models import OutboxMessage
from authsuite.outbox import outbox_sweep
from authsuite.tasks import deliver_mail
from tests.factories import UserFactory
from tests.helpers import link_form, open_link
from tests.services import worker_settings
from tests.services.support import wait_until

pytestmark = pytest.mark.services

Status = OutboxMessage.Status


def _message_in(status: str, **filters):
    return lambda: OutboxMessage.objects.filter(status=status, **filters).first()


def test_magic_link_is_delivered_by_the_worker_and_signs_in(client, user, worker, smtp_server):
    response = client.post(reverse("accounts:magic_link"), {"email": user.email})
    assert response.status_code == 200

    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == [user.email]
    assert "sign-in link" in mail.message["Subject"]
    path = mail.link_path()

    page, confirm = open_link(client, path)  # the confirmation page consumes nothing
    assert page.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(confirm, link_form(page))
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["_authsuite_auth"]["amr"] == ["email"]

    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 1, "")
    assert row.sealed_context == ""  # the link is erased once delivered


def test_the_worker_decides_a_reset_request_as_the_request_that_asked(user, worker, smtp_server):
    from accounts.models import OneTimeToken
    from audit.models import Event

    start = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    browser = Client(REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Worker Test Browser/2.0",
                     HTTP_X_REQUEST_ID="services-request-0001")

    response = browser.post(reverse("accounts:password_reset"), {"email": user.email})

    assert response.status_code == 302
    [mail] = smtp_server.wait_for(1)
    assert "/accounts/password/reset/" in mail.link_path()
    [event] = Event.objects.filter(pk__gt=start, action__startswith="accounts.")
    assert event.action == "accounts.password.reset_requested"
    assert (event.ip, event.user_agent, event.request_id) == (
        "203.0.113.5", "Worker Test Browser/2.0", "services-request-0001")
    assert OneTimeToken.objects.filter(user=user).count() == 1
    row = OutboxMessage.objects.get()
    assert (row.resolver, row.template, row.status) == (
        "", "accounts/email/password_reset", Status.SENT)


def test_broker_outage_delays_mail_and_loses_none(
    client, user, worker, broker, smtp_server, settings
):
    other = UserFactory()
    broker.stop()
    for person in (user, other):
        started = time.monotonic()
        response = client.post(reverse("accounts:magic_link"), {"email": person.email})
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        # Publishing gives up at once: no sign-in waits out the broker connection timeout.
        assert elapsed < settings.CELERY_BROKER_CONNECTION_TIMEOUT
    rows = list(OutboxMessage.objects.order_by("pk"))
    assert [(row.to, row.status, row.attempts) for row in rows] == [
        (user.email, Status.PENDING, 0), (other.email, Status.PENDING, 0),
    ]

    broker.start()  # a new, empty broker: the task queued before the outage is gone
    wait_until(worker.ping, timeout=60, interval=0.2, what="the worker to reconnect")
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 0
    assert outbox_sweep() == 2
    # A second sweeper run and stray duplicate tasks: each message must still go out once.
    outbox_sweep()
    for row in rows:
        deliver_mail.delay(row.pk)

    wait_until(lambda: OutboxMessage.objects.filter(status=Status.SENT).count() == 2,
               what="the swept messages to be sent")
    wait_until(broker.idle, what="every queued copy of the tasks to finish")
    assert sorted(mail.rcpt_tos[0] for mail in smtp_server.received) == sorted(
        [user.email, other.email]
    )
    # Only one delivery ever claimed each message.
    assert list(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 1]


def test_smtp_refusal_is_retried_after_a_backoff(client, user, staff, worker, smtp_server):
    smtp_server.refuse_next("451 4.3.0 Mailbox busy, try again later")
    smtp_server.hold()  # the retry waits at the SMTP server while the test looks
    client.post(reverse("accounts:magic_link"), {"email": user.email})

    wait_until(lambda: len(smtp_server.attempts) == 2, what="the retry at the SMTP server")
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts) == (Status.SENDING, 2)
    assert "451" in row.last_error  # staff can see why the first attempt failed
    refused, retried = smtp_server.attempts
    assert refused.reply == "451"
    assert retried.at - refused.at >= worker_settings.AUTHSUITE_MAIL_RETRY_BACKOFF

    smtp_server.release()
    row = wait_until(_message_in(Status.SENT, pk=row.pk), what="the retry to be delivered")
    assert (row.attempts, row.last_error, row.sealed_context) == (2, "", "")
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == [user.email]

    admin = Client()
    admin.force_login(staff)
    page = admin.get(reverse("admin:authsuite_outboxmessage_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<td class="field-status">Sent</td>' in html
    assert '<td class="field-attempts">2</td>' in html


def test_mail_fails_for_good_after_max_attempts_and_staff_can_retry_it(
    client, user, staff, worker, smtp_server, password
):
    max_attempts = worker_settings.AUTHSUITE_MAIL_MAX_ATTEMPTS
    smtp_server.refuse_next("451 4.3.0 Try again later", times=max_attempts)
    # Signing up with a taken address mails its owner a notice (no secret in it).
    client.post(reverse("accounts:signup"), {"email": user.email, "password": password})

    row = wait_until(_message_in(Status.FAILED), what="the message to fail for good")
    assert row.template == "accounts/email/account_exists"
    assert row.attempts == max_attempts
    assert "451" in row.last_error
    assert smtp_server.received == []

    admin = Client()
    admin.force_login(staff)
    response = admin.post(
        reverse("admin:authsuite_outboxmessage_changelist"),
        {"action": "retry_now", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == [user.email]
    row = wait_until(_message_in(Status.SENT, pk=row.pk), what="the retried message")
    assert row.attempts == 1


def test_a_message_the_smtp_server_refuses_for_good_is_not_retried(client, user, worker,
                                                                   smtp_server):
    smtp_server.refuse_next("554 5.7.1 Message rejected as spam",
                            times=worker_settings.AUTHSUITE_MAIL_MAX_ATTEMPTS)
    client.post(reverse("accounts:magic_link"), {"email": user.email})

    row = wait_until(_message_in(Status.FAILED), what="the message to fail at once")
    assert row.attempts == 1
    assert "554" in row.last_error and "SMTPDataError" in row.last_error
    assert row.sealed_context == ""  # its sign-in link is gone with it
    assert [attempt.reply for attempt in smtp_server.attempts] == ["554"]


def test_signup_verification_mail_through_the_worker(client, worker, smtp_server, password):
    response = client.post(
        reverse("accounts:signup"), {"email": "Nia@Example.com", "password": password}
    )
    assert response.status_code == 302

    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["nia@example.com"]
    assert "verify your email" in mail.message["Subject"]
    path = mail.link_path()
    page, confirm = open_link(client, path)
    assert page.status_code == 200
    assert client.post(confirm, link_form(page, password=password)).status_code == 302
    assert EmailAddress.objects.get(email="nia@example.com").verified

    response = client.post(
        reverse("accounts:login"), {"email": "nia@example.com", "password": password}
    )
    assert response.status_code == 302
    assert client.session["_authsuite_auth"]["amr"] == ["pwd"]
