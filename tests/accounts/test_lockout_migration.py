"""Lockout pairs stored under full IPv6 addresses move to the /64 (or embedded IPv4) key,
merged without lifting any lock (accounts migration 0003)."""

from __future__ import annotations

import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from accounts import lockout
from accounts.models import LoginThrottle

pytestmark = pytest.mark.django_db

forwards = importlib.import_module("accounts.migrations.0003_lockout_pairs_by_network").forwards


def move(apps) -> None:
    """The migration's step, run on this database (all it asks of its schema editor)."""
    forwards(apps, SimpleNamespace(connection=connection))


def test_pairs_move_to_their_network_and_merge_keeping_the_worst():
    now = timezone.now()
    LoginThrottle.objects.create(identifier="v@example.com", ip="2001:db8:1:2::9", failures=4,
                                 lockouts=1, locked_until=now + timedelta(minutes=10),
                                 last_failure_at=now - timedelta(minutes=1))
    LoginThrottle.objects.create(identifier="v@example.com", ip="2001:db8:1:2::a", failures=2,
                                 lockouts=2, locked_until=None, last_failure_at=now)
    LoginThrottle.objects.create(identifier="v@example.com", ip="::ffff:203.0.113.7",
                                 failures=1)
    LoginThrottle.objects.create(identifier="v@example.com", ip="203.0.113.8", failures=3)
    LoginThrottle.objects.create(identifier="v@example.com", ip="", failures=6)
    LoginThrottle.objects.create(identifier="w@example.com", ip="unknown", failures=1)

    move(apps)

    rows = {(r.identifier, r.ip): r for r in LoginThrottle.objects.all()}
    assert set(rows) == {("v@example.com", "2001:db8:1:2::/64"), ("v@example.com", "203.0.113.7"),
                         ("v@example.com", "203.0.113.8"), ("v@example.com", ""),
                         ("w@example.com", "unknown")}
    merged = rows[("v@example.com", "2001:db8:1:2::/64")]
    assert (merged.failures, merged.lockouts) == (4, 2)
    assert merged.locked_until > now and merged.last_failure_at == now
    assert lockout.standing("v@example.com", "2001:db8:1:2::ff").retry_after > 0  # still locked


def test_moving_twice_changes_nothing():
    LoginThrottle.objects.create(identifier="v@example.com", ip="2001:db8:1:2::9", failures=4)
    move(apps)
    before = list(LoginThrottle.objects.values_list("identifier", "ip", "failures"))
    move(apps)
    assert list(LoginThrottle.objects.values_list("identifier", "ip", "failures")) == before
