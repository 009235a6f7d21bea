"""Security alerts through the real path: audit rule → outbox row → Redis broker → Celery
worker → SMTP server; and the worker chains the events the web side recorded."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import EmailAddress
from audit import chain
from audit.models import Event, EventSeal
from authsuite.models import OutboxMessage
from tests.services.support import wait_until

pytestmark = pytest.mark.services

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


def sign_in(client, user, password, **extra):
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                           **extra)
    assert response.status_code == 302
    return response


def test_a_password_change_reaches_the_user_once(client, user, password, worker, smtp_server):
    sign_in(client, user, password)
    response = client.post(reverse("accounts:password_change"), {
        "current_password": password, "new_password": password + "!",
        "new_password_confirm": password + "!"})
    assert response.status_code == 302

    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == [user.email]
    assert "Your password was changed" in mail.message["Subject"]
    text = mail.text
    assert "The password of your account was changed" in text  # what
    assert "UTC" in text and "IP:" in text and "Device:" in text  # when and where
    assert "If this was not you" in text  # what to do
    row = wait_until(lambda: OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENT).first(), what="the outbox row to be marked sent")
    assert row.template == "audit/email/alert"
    assert OutboxMessage.objects.count() == 1  # the accounts notice was not queued as well
    assert Event.objects.filter(action="audit.alert.sent").count() == 1


def test_an_address_change_reaches_both_addresses(client, user, password, worker, smtp_server):
    sign_in(client, user, password)
    client.post(reverse("accounts:email"), {"email": "second@example.com"})
    [verification] = smtp_server.wait_for(1)
    client.post(verification.link_path())
    smtp_server.reset()
    address = EmailAddress.objects.get(email="second@example.com")
    client.post(reverse("accounts:email"), {"action": "primary", "address": address.pk})

    received = smtp_server.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted([user.email, "second@example.com"])
    for mail in received:
        assert "sign-in address was changed" in mail.message["Subject"]
        assert "second@example.com" in mail.text


def test_a_new_device_alert_is_delivered(client, user, password, worker, smtp_server):
    sign_in(client, user, password)
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="203.0.113.77")
    [mail] = smtp_server.wait_for(1)
    assert "New sign-in" in mail.message["Subject"]
    assert "203.0.113.77" in mail.text and "Chrome 126 on Windows" in mail.text


def test_the_worker_chains_what_the_web_side_recorded(client, user, password, worker):
    sign_in(client, user, password)
    client.post(reverse("accounts:logout"))
    recorded = Event.objects.count()
    assert recorded >= 2
    # The requests only queued a sealing task; the worker process does the chaining.
    wait_until(lambda: EventSeal.objects.count() == recorded, timeout=30,
               what="the worker to chain the new events")
    report = chain.verify()
    assert report.ok, report.problems
    assert report.checked == recorded
