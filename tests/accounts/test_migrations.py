"""Data migrations, run from the state before them on rows they must put right."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler
from django.utils import timezone


@contextmanager
def migrated_back_to(*migrations: tuple[str, str]):
    """The models as of ``migrations`` (one per app), with the database migrated back to
    them; forward to the latest state again afterwards, whatever happened."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(list(migrations))
        yield executor.loader.project_state(list(migrations)).apps
    finally:
        MigrationExecutor(connection).migrate(latest)


def migrate_to(migration: tuple[str, str]):
    """Migrate forward to ``migration``; the models as of it."""
    executor = MigrationExecutor(connection)
    executor.migrate([migration])
    return executor.loader.project_state([migration]).apps


def create_user(User, email: str, n: int):
    """A user of the historical model, with a username where the model has one."""
    return User.objects.create(
        email=email, **({"username": f"u{n}"} if hasattr(User, "username") else {}))


@pytest.mark.django_db(transaction=True)
def test_one_primary_owner_is_chosen_before_the_constraint():
    with migrated_back_to(("accounts", "0005_lockout_consecutive_failures")) as apps:
        User = apps.get_model(settings.AUTH_USER_MODEL)
        EmailAddress = apps.get_model("accounts", "EmailAddress")
        OneTimeToken = apps.get_model("accounts", "OneTimeToken")
        first, second, third = (create_user(User, f"u{n}@example.com", n) for n in range(3))
        now = timezone.now()
        EmailAddress.objects.create(user=first, email="dup@example.com", primary=True,
                                    verified=False, created_at=now)
        kept = EmailAddress.objects.create(user=second, email="dup@example.com", primary=True,
                                           verified=True, created_at=now)
        EmailAddress.objects.create(user=third, email="dup@example.com", primary=True,
                                    verified=False, created_at=now)
        OneTimeToken.objects.create(purpose="verify_email", user=first, email="dup@example.com",
                                    digest="d" * 64, expires_at=now.replace(year=now.year + 1))

        migrate_to(("accounts", "0006_one_primary_owner"))

        rows = EmailAddress.objects.filter(email="dup@example.com").order_by("user_id")
        assert [(r.user_id, r.primary, r.verified) for r in rows] == [
            (first.pk, False, False), (second.pk, True, True), (third.pk, False, False)]
        assert rows.get(primary=True).pk == kept.pk
        assert OneTimeToken.objects.get(user=first).voided_at is not None


@pytest.mark.django_db(transaction=True)
def test_addresses_are_rewritten_in_their_normal_form_unless_it_is_taken():
    with migrated_back_to(("accounts", "0007_reauthenticate_token_purpose")) as apps:
        User = apps.get_model(settings.AUTH_USER_MODEL)
        EmailAddress = apps.get_model("accounts", "EmailAddress")
        ann = create_user(User, "ann@\uff45xample.com", 1)
        bob = create_user(User, "bob@xn--bcher-kva.de", 2)
        clash = create_user(User, "carl@example.com", 3)
        twin = create_user(User, "carl@\uff45xample.com", 4)  # its normal form is carl's
        now = timezone.now()
        for owner in (ann, bob, clash, twin):
            EmailAddress.objects.create(user=owner, email=owner.email, primary=True,
                                        verified=True, created_at=now)

        apps = migrate_to(("accounts", "0008_addresses_in_normal_form"))

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


@pytest.mark.django_db(transaction=True)
def test_one_live_passkey_sign_up_link_is_kept_per_address_before_the_constraint():
    with migrated_back_to(("passkeys", "0002_pending_signups")) as apps:
        PendingSignup = apps.get_model("passkeys", "PendingSignup")
        now = timezone.now()
        later = now.replace(year=now.year + 1)

        def pending(n, email, created_at, **extra):
            return PendingSignup.objects.create(
                email=email, handle=f"h{n}", digest=f"d{n}", created_at=created_at,
                expires_at=later, **extra)

        older = pending(1, "twice@example.com", now)
        newer = pending(2, "twice@example.com", now + timedelta(seconds=1))
        used = pending(3, "twice@example.com", now, used_at=now)
        alone = pending(4, "once@example.com", now)

        migrate_to(("passkeys", "0003_one_live_signup_per_address"))

        voided = dict(PendingSignup.objects.values_list("pk", "voided_at"))
        assert voided[older.pk] is not None
        assert voided[newer.pk] is None and voided[alone.pk] is None
        assert voided[used.pk] is None  # used, not live: left as it was


@pytest.mark.django_db(transaction=True)
def test_undecided_link_requests_written_before_requests_expired_get_their_expiry(settings):
    from authsuite.models import OutboxMessage as Current
    from authsuite.outbox import mail_deliver

    settings.AUTHSUITE_ACCOUNTS_MAGIC_LINK_TIMEOUT = 900
    settings.AUTHSUITE_ACCOUNTS_PASSWORD_RESET_TIMEOUT = 7200
    resolver = "accounts.link_request"
    with migrated_back_to(("accounts", "0010_password_rehash"),
                          ("authsuite", "0005_outbox_guard")) as apps:
        OutboxMessage = apps.get_model("authsuite", "OutboxMessage")
        now = timezone.now()
        asked_at = now - timedelta(minutes=30)

        def request(purpose, **fields):
            return OutboxMessage.objects.create(**{
                "template": resolver, "resolver": resolver, "to": "ann@example.com",
                "context": {"email": "ann@example.com", "purpose": purpose},
                "created_at": asked_at, **fields}).pk

        magic = request("magic_link")
        reset = request("password_reset")
        claimed = request("magic_link", status="sending", claimed_at=asked_at)
        unknown = request("unheard_of")
        dated = request("magic_link", expires_at=now + timedelta(hours=5))
        failed = request("magic_link", status="failed")
        decided = OutboxMessage.objects.create(
            template="accounts/email/magic_link", to="ann@example.com", created_at=asked_at).pk

        migrate_to(("accounts", "0011_link_requests_expire"))

        expiry = dict(OutboxMessage.objects.values_list("pk", "expires_at"))
        assert expiry[magic] == asked_at + timedelta(seconds=900)
        assert expiry[reset] == asked_at + timedelta(seconds=7200)
        assert expiry[claimed] == asked_at + timedelta(seconds=900)
        assert expiry[unknown] == asked_at + timedelta(seconds=900)  # the shorter lifetime
        assert expiry[dated] == now + timedelta(hours=5)
        assert expiry[failed] is None and expiry[decided] is None

    # Asked for half an hour ago, its 15-minute link would be dead: dropped undecided.
    assert mail_deliver(magic) == "failed"
    stale = Current.objects.get(pk=magic)
    assert stale.resolver == resolver
    assert stale.last_error == "The request expired before it could be answered."



@pytest.mark.django_db(transaction=True)
def test_migrating_back_before_0004_keeps_one_row_per_address():
    """Before 0004 an address was unique: going back there keeps the row that verified it,
    else the oldest, and voids the links still pending for the rows that go."""
    from accounts.models import EmailAddress as Current
    from accounts.models import OneTimeToken as Token
    from tests.factories import UserFactory

    ann, bob, cat, dan = (UserFactory(email=f"{name}@example.com")
                          for name in ("ann", "bob", "cat", "dan"))
    now = timezone.now()
    Current.objects.create(user=ann, email="shared@example.com", created_at=now)
    Current.objects.create(user=bob, email="shared@example.com",
                           created_at=now + timedelta(seconds=1))
    Current.objects.create(user=dan, email="held@example.com", created_at=now)
    Current.objects.create(user=cat, email="held@example.com", verified=True,
                           created_at=now + timedelta(seconds=1))
    Token.objects.create(purpose="verify_email", user=bob, email="shared@example.com",
                         digest="b" * 64, expires_at=now + timedelta(hours=1))
    Token.objects.create(purpose="verify_email", user=ann, email="shared@example.com",
                         digest="a" * 64, expires_at=now + timedelta(hours=1))

    with migrated_back_to(("accounts", "0003_lockout_pairs_by_network")) as apps:
        EmailAddress = apps.get_model("accounts", "EmailAddress")
        OneTimeToken = apps.get_model("accounts", "OneTimeToken")
        kept = dict(EmailAddress.objects.filter(email__in=["shared@example.com",
                                                           "held@example.com"])
                    .values_list("email", "user_id"))
        assert kept == {"shared@example.com": ann.pk, "held@example.com": cat.pk}
        voided = dict(OneTimeToken.objects.values_list("user_id", "voided_at"))
        assert voided[bob.pk] is not None and voided[ann.pk] is None


@pytest.fixture
def other_database(tmp_path):
    """A second database of the project (``migrate --database other``), empty."""
    alias = "other"
    configured = ConnectionHandler({
        "default": {"ENGINE": "django.db.backends.dummy"},
        alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "other.sqlite3")},
    })
    connections[alias] = other = configured[alias]
    try:
        yield other
    finally:
        other.close()
        del connections[alias]


@pytest.mark.django_db(transaction=True)
def test_data_migrations_change_the_database_being_migrated(other_database):
    """``migrate --database other`` puts right the rows of that database, not the default's."""
    alias = other_database.alias

    def migrate(*targets):
        executor = MigrationExecutor(other_database)
        executor.migrate(list(targets))
        return executor.loader.project_state(list(targets)).apps

    apps = migrate(("accounts", "0002_signup_token_purpose"))
    apps.get_model("accounts", "LoginThrottle").objects.using(alias).create(
        identifier="v@example.com", ip="2001:db8:1:2::9", failures=4)
    apps = migrate(("accounts", "0007_reauthenticate_token_purpose"))
    throttle = apps.get_model("accounts", "LoginThrottle")
    assert list(throttle.objects.using(alias).values_list("ip", flat=True)) == [
        "2001:db8:1:2::/64"]

    owner = apps.get_model(settings.AUTH_USER_MODEL).objects.using(alias).create(
        email="ann@example.com",
        **({"username": "ann"} if settings.AUTH_USER_MODEL == "auth.User" else {}))
    apps.get_model("accounts", "EmailAddress").objects.using(alias).create(
        user_id=owner.pk, email="ann@\uff45xample.com", primary=True)
    apps = migrate(("accounts", "0008_addresses_in_normal_form"))
    assert list(apps.get_model("accounts", "EmailAddress").objects.using(alias)
                .values_list("email", flat=True)) == ["ann@example.com"]

    apps = migrate(("accounts", "0010_password_rehash"), ("authsuite", "0005_outbox_guard"))
    asked_at = timezone.now() - timedelta(minutes=5)
    request = apps.get_model("authsuite", "OutboxMessage").objects.using(alias).create(
        template="accounts.link_request", resolver="accounts.link_request",
        to="ann@example.com", context={"purpose": "magic_link"}, created_at=asked_at)
    apps = migrate(("accounts", "0011_link_requests_expire"))
    outbox = apps.get_model("authsuite", "OutboxMessage")
    assert outbox.objects.using(alias).get(pk=request.pk).expires_at is not None
