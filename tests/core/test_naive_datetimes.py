"""A project with ``USE_TZ = False``: Django's clock and the database give naive datetimes
in ``TIME_ZONE``. Times the suite shows as UTC are UTC, the audit trail filters by date,
and session timeouts hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit import chain, verification
from audit.models import Event
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

# 13:00 in Paris. Moved to as a timestamp: time-machine given an aware datetime would set
# the process's time zone to its own (UTC), where Django's TIME_ZONE puts it.
NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


@pytest.fixture(autouse=True)
def naive(settings, time_machine):
    settings.USE_TZ = False
    settings.TIME_ZONE = "Europe/Paris"
    time_machine.move_to(NOON, tick=False)


def sign_in(client, user, **extra):
    response = client.post(reverse("accounts:login"),
                           {"email": user.email, "password": STRONG_PASSWORD}, **extra)
    assert response.status_code == 302
    return response


def test_a_mail_says_when_it_was_asked_for_in_utc(client, user):
    client.post(reverse("accounts:password_reset"), {"email": user.email})

    [message] = mail.outbox
    assert "2026-01-15 12:00 UTC" in message.body


def test_an_alert_says_when_its_event_happened_in_utc(user):
    sign_in(Client(), user)
    sign_in(Client(), user, HTTP_USER_AGENT=CHROME)  # a device the account had not used

    [alert] = mail.outbox
    assert "New sign-in" in alert.subject
    assert "2026-01-15 12:00 UTC" in alert.body


def test_the_audit_trail_filters_by_date(client, staff, user):
    client.force_login(staff)
    sign_in(Client(), user)
    signed_in = Event.objects.get(action="accounts.login.succeeded", actor_id=str(user.pk))
    url = reverse("admin:audit_event_changelist")

    for query in ("since=2026-01-15", "until=2026-01-15", "since=2026-01-15T13:00",
                  "since=2026-01-15T12:00Z", "period=1"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, query
        assert signed_in in response.context["cl"].result_list, query
    for query in ("since=2026-01-16", "until=2026-01-14", "since=2026-01-15T13:01",
                  "since=2026-01-15T12:01Z"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, query
        assert signed_in not in response.context["cl"].result_list, query


def test_a_session_idle_past_its_timeout_is_signed_out(client, user, settings, time_machine):
    settings.AUTHSUITE_ACCOUNTS_SESSION_IDLE_TIMEOUT = 600
    sign_in(client, user)
    sessions = reverse("accounts:sessions")
    assert client.get(sessions).status_code == 200

    time_machine.move_to(NOON + 9 * 60, tick=False)
    assert client.get(sessions).status_code == 200
    time_machine.move_to(NOON + 20 * 60, tick=False)

    assert client.get(sessions).status_code == 302


@pytest.mark.postgres
def test_an_untouched_audit_trail_verifies_on_postgresql(user, time_machine):
    """PostgreSQL gives Django the naive times in the session's zone: the verification reads
    the checkpoints' in TIME_ZONE, as they were signed, not in UTC."""
    sign_in(Client(), user)
    chain.checkpoint()
    time_machine.move_to(NOON + 60, tick=False)
    chain.record(action="test.later")
    chain.checkpoint()

    report = verification.verify()

    assert report.ok, report.problems
    assert report.checkpoints == 2
