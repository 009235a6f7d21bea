"""The periodic prune of failed sign-ins (``accounts.lockout.throttles_prune``, run by the
``accounts.expire_sessions`` task): what counts for nothing any more goes, addresses of
nobody's included; what the lockout still needs stays (a lock running, an account's
failures in a row, a known browser's row while a cookie may name it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts import lockout, tasks
from accounts.app_settings import app_settings
from accounts.models import LoginThrottle
from tests.accounts.support import api_login, api_post, error_code, freeze

pytestmark = pytest.mark.django_db
WRONG = "not the right password"
ATTACKER = "203.0.113.66"
NOBODY = "nobody@example.com"
DAY = timedelta(days=1, seconds=1)  # LOCKOUT_RESET_AFTER, and a second


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": None, "account": None}}


@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


def fail(email: str, ip: str = ATTACKER, client=None):
    return api_login(client or Client(), email, WRONG, REMOTE_ADDR=ip)


def rows() -> dict[tuple[str, str], int]:
    """Each row left, by (address, scope), with its failures in a row."""
    return {(row.identifier, "account" if row.ip == LoginThrottle.ACCOUNT_WIDE
             else "browser" if row.ip.startswith(lockout.DEVICE_PREFIX) else row.ip):
            row.consecutive_failures for row in LoginThrottle.objects.all()}


def test_idle_rows_go_but_an_addresss_failures_in_a_row(user, clock):
    for email in (user.email, NOBODY):
        fail(email)
        fail(email)
    clock.shift(timedelta(hours=23))
    tasks.expire_sessions()
    assert len(rows()) == 4  # a day has not passed: all of them still count

    clock.shift(timedelta(hours=1, seconds=1))
    tasks.expire_sessions()

    # The IP's rows go; each address keeps its two failures in a row (the consecutive limit
    # holds however slowly the guesses come), the address of nobody as the account's.
    assert rows() == {(user.email, "account"): 2, (NOBODY, "account"): 2}


def test_an_accounts_rows_go_once_idle_after_a_sign_in_or_a_recovery(user, password, clock):
    fail(user.email)
    assert api_login(Client(), user.email, password).status_code == 200  # from elsewhere
    fail(user.email, "10.0.0.9")
    lockout.recovered(user)  # an emailed link, a passkey or a reset since
    assert rows() == {(user.email, ATTACKER): 0, (user.email, "10.0.0.9"): 0,
                      (user.email, "account"): 0}
    clock.shift(DAY)

    tasks.expire_sessions()

    assert rows() == {}


def test_a_lock_running_stays_until_it_ends(user, settings, clock):
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_RESET_AFTER = 30
    for _ in range(app_settings.LOCKOUT_THRESHOLD):
        fail(NOBODY)
    assert error_code(fail(NOBODY)) == "account_locked"  # 60 seconds
    clock.shift(timedelta(seconds=31))

    lockout.throttles_prune()
    assert (NOBODY, ATTACKER) in rows()  # idle, but locked

    clock.shift(timedelta(seconds=30))
    lockout.throttles_prune()
    assert rows() == {(NOBODY, "account"): app_settings.LOCKOUT_THRESHOLD}  # in a row


@pytest.mark.parametrize("email", ["user", NOBODY])
def test_the_consecutive_limit_holds_after_the_prune_for_any_address(user, password, settings,
                                                                     clock, email):
    # Alike for an account and for an address of nobody: a limit forgotten for the unknown
    # ones only would tell, a month later, which addresses have accounts.
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT = 3
    email = user.email if email == "user" else email
    fail(email, "10.0.0.1")
    fail(email, "10.0.0.2")
    clock.shift(timedelta(days=30))
    lockout.throttles_prune()

    fail(email, "10.0.0.3")  # the third in a row, a month later

    response = api_login(Client(), email, password, REMOTE_ADDR="198.51.100.7")
    assert error_code(response) == "password_blocked"


def test_a_known_browsers_row_stays_while_a_cookie_may_name_it(user, password, clock):
    browser = Client(REMOTE_ADDR="198.51.100.7")
    assert api_login(browser, user.email, password).status_code == 200
    api_post(browser, "logout/")
    fail(user.email, "198.51.100.7", client=browser)  # counted on the browser's own row
    assert (user.email, "browser") in rows()

    clock.shift(timedelta(days=2))
    lockout.throttles_prune()
    assert (user.email, "browser") in rows()  # its cookie lives a year

    clock.shift(timedelta(days=app_settings.LOCKOUT_DEVICE_COOKIE_DAYS))
    lockout.throttles_prune()
    assert (user.email, "browser") not in rows()


def test_a_row_pruned_between_its_lookup_and_its_lock_is_made_again(user, monkeypatch):
    # The prune deleted an idle row after a failure's get_or_create found it and before the
    # row lock: the lock's get() found nothing, a 500.
    manager = LoginThrottle.objects
    real = manager.get_or_create
    pruned = []

    def get_or_create_then_pruned(**kwargs):
        found = real(**kwargs)
        if not pruned:
            pruned.append(manager.filter(**kwargs).delete())
        return found

    monkeypatch.setattr(manager, "get_or_create", get_or_create_then_pruned)

    assert error_code(fail(user.email)) == "invalid_credentials"
    assert rows() == {(user.email, ATTACKER): 0, (user.email, "account"): 1}
