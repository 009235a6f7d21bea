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


@pytest.mark.django_db(transaction=True)
def test_addresses_are_rewritten_in_their_normal_form_unless_it_is_taken():
    before = ("accounts", "0007_reauthenticate_token_purpose")
    after = ("accounts", "0008_addresses_in_normal_form")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([before])
    apps = executor.loader.project_state([before]).apps
    User = apps.get_model(settings.AUTH_USER_MODEL)
    EmailAddress = apps.get_model("accounts", "EmailAddress")
    fullwidth = "ann@\uff45xample.com"
    try:
        def user(email, n):
            return User.objects.create(
                email=email, **({"username": f"u{n}"} if hasattr(User, "username") else {}))

        ann = user(fullwidth, 1)
        bob = user("bob@xn--bcher-kva.de", 2)
        clash = user("carl@example.com", 3)
        twin = user("carl@\uff45xample.com", 4)  # its normal form is carl's: left as it is
        now = timezone.now()
        for owner in (ann, bob, clash, twin):
            EmailAddress.objects.create(user=owner, email=owner.email, primary=True,
                                        verified=True, created_at=now)

        executor = MigrationExecutor(connection)
        executor.migrate([after])

        apps = executor.loader.project_state([after]).apps
        User = apps.get_model(settings.AUTH_USER_MODEL)
        EmailAddress = apps.get_model("accounts", "EmailAddress")
        normal = {ann.pk: "ann@example.com", bob.pk: "bob@bücher.de",
                  clash.pk: "carl@example.com", twin.pk: "carl@\uff45xample.com"}
        assert dict(EmailAddress.objects.values_list("user_id", "email")) == normal
        # The suite's own user table is rewritten; another app's (django.contrib.auth's)
        # is the project's to change.
        own = settings.AUTH_USER_MODEL == "accounts.User"
        assert dict(User.objects.values_list("pk", "email")) == (
            normal if own else {u.pk: u.email for u in (ann, bob, clash, twin)})
    finally:
        MigrationExecutor(connection).migrate(latest)
