"""What the challenge costs in SQL, pinned so that a regression shows (see bench/mfa.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mfa.models import TOTPDevice
from tests.mfa.support import enroll, login, sign_in_fully

pytestmark = pytest.mark.django_db


def own(queries) -> list[str]:
    """The request's queries, without the audit log's (whose sealing may run inline in
    tests, depending on the database) and without savepoints (tests run in a transaction)."""
    return [q["sql"] for q in queries.captured_queries
            if "audit_" not in q["sql"] and "SAVEPOINT" not in q["sql"]]


def test_a_step_up_reads_the_device_once_and_writes_it_once(client, user, password, clock):
    secret, _ = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    clock.step()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert response.status_code == 302
    sql = own(queries)
    assert sum(s.startswith("SELECT") and "mfa_totpdevice" in s for s in sql) == 1
    assert sum(s.startswith("UPDATE") and "mfa_totpdevice" in s for s in sql) == 1
    assert len(sql) <= 6, "\n".join(sql)


def test_a_sign_in_challenge_stays_within_its_budget(client, user, password, clock):
    secret, _ = enroll(user)
    login(client, user, password)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert response.status_code == 302
    sql = own(queries)
    assert sum(s.startswith("UPDATE") and "mfa_totpdevice" in s for s in sql) == 1
    assert len(sql) <= 9, "\n".join(sql)


def test_an_accepted_code_and_its_consequences_commit_together(transactional_db, client, user,
                                                                password, clock, monkeypatch):
    """If completing the sign-in fails, the code is not spent and no half-record is left."""
    from accounts import pipeline
    from audit.models import Event

    secret, _ = enroll(user)
    login(client, user, password)
    events = Event.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("session store unavailable")

    monkeypatch.setattr(pipeline, "stage_passed", broken)
    with pytest.raises(RuntimeError):
        client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    device = TOTPDevice.objects.get(user=user)
    assert device.last_t == -1 and device.last_used_at is None
    assert Event.objects.count() == events
