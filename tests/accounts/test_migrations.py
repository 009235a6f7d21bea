"""Data migrations, run from the state before them on rows they must put right."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = ("accounts", "0005_lockout_consecutive_failures")
AFTER = ("accounts", "0006_one_primary_owner")


@pytest.mark.django_db(transaction=True)
def test_one_primary_owner_is_chosen_before_the_constraint():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    User = apps.get_model(settings.AUTH_USER_MODEL)
    EmailAddress = apps.get_model("accounts", "EmailAddress")
    OneTimeToken = apps.get_model("accounts", "OneTimeToken")
    try:
        first, second, third = (
            User.objects.create(email=f"u{n}@example.com",
                                **({"username": f"u{n}"} if hasattr(User, "username") else {}))
            for n in range(3))
        now = timezone.now()
        EmailAddress.objects.create(user=first, email="dup@example.com", primary=True,
                                    verified=False, created_at=now)
        kept = EmailAddress.objects.create(user=second, email="dup@example.com", primary=True,
                                           verified=True, created_at=now)
        EmailAddress.objects.create(user=third, email="dup@example.com", primary=True,
                                    verified=False, created_at=now)
        OneTimeToken.objects.create(purpose="verify_email", user=first, email="dup@example.com",
                                    digest="d" * 64, expires_at=now.replace(year=now.year + 1))

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])

        rows = EmailAddress.objects.filter(email="dup@example.com").order_by("user_id")
        assert [(r.user_id, r.primary, r.verified) for r in rows] == [
            (first.pk, False, False), (second.pk, True, True), (third.pk, False, False)]
        assert rows.get(primary=True).pk == kept.pk
        assert OneTimeToken.objects.get(user=first).voided_at is not None
    finally:
        MigrationExecutor(connection).migrate(latest)
