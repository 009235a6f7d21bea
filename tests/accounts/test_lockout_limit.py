"""At most 100 failed password checks in a row on one account (NIST SP 800-63B-4 §3.2.2).

The temporary locks slow guessing down but expire; many IPs, or one patient one, could go on
guessing for ever. So the account-wide row also counts every failure in a row, from any IP,
at any pace. At ``LOCKOUT_CONSECUTIVE_LIMIT`` (100) the password is no longer checked until
the account signs in another way, resets its password or is unlocked by staff.
"""

from __future__ import annotations

import json

import pytest
from django.core import checks
from django.test import Client, override_settings
from django.urls import reverse

from accounts import lockout, signals
from accounts.models import LoginThrottle
from audit.models import Event
from tests.accounts.support import api_login, api_post, error_code, freeze, html_login
from tests.helpers import last_link, link_form, open_link, user_admin_url

pytestmark = pytest.mark.django_db
WRONG = "not the right password"
LIMIT = 100
BLOCKED_MESSAGE = ("Too many failed attempts in a row: the password of this account is paused. "
                   "Sign in with an emailed link or a passkey, or reset the password.")


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # The rate limits would stop a guesser long before the limit: the limit is under test.
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": None, "account": None},
                                               "reauthenticate": {"ip": None, "account": None}}


@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


def guess(email: str, count: int, clock, *, first_ip: int = 0) -> int:
    """``count`` wrong passwords actually checked, each from a new IP, waiting out every
    lock; returns the next unused IP number."""
    checked, n = 0, first_ip
    while checked < count:
        response = api_login(Client(), email, WRONG, REMOTE_ADDR=f"10.{n // 250}.{n % 250}.1")
        n += 1
        if response.status_code == 429:
            clock.shift(int(response["Retry-After"]) + 1)
            continue
        assert error_code(response) == "invalid_credentials", response.content
        checked += 1
    return n


def sign_in(email: str, password: str, ip: str = "198.51.100.7"):
    return api_login(Client(), email, password, REMOTE_ADDR=ip)


def consecutive(email: str) -> int:
    row = LoginThrottle.objects.filter(identifier=email, ip=LoginThrottle.ACCOUNT_WIDE).first()
    return row.consecutive_failures if row else 0


def test_the_limit_is_100_by_default(user, password, clock):
    guess(user.email, LIMIT - 1, clock)
    assert consecutive(user.email) == 99
    assert sign_in(user.email, password).status_code == 200  # the 100th check: right
    assert consecutive(user.email) == 0  # a success starts the count again


def test_after_100_failures_in_a_row_the_password_is_refused_from_everywhere(user, password,
                                                                            clock):
    guess(user.email, LIMIT, clock)

    for ip in ("198.51.100.7", "192.0.2.200", "2001:db8::1"):
        response = sign_in(user.email, password, ip)
        assert response.status_code == 403
        assert error_code(response) == "password_blocked"
        assert response.json()["error"]["message"] == BLOCKED_MESSAGE
        assert "Retry-After" not in response
    browser = Client()
    page = html_login(browser, user.email, password)
    assert page.status_code == 200  # the form again, with the reason
    assert page.context["form"].non_field_errors() == [BLOCKED_MESSAGE]
    assert "_auth_user_id" not in browser.session
    assert consecutive(user.email) == LIMIT  # refusals are not checks: nothing more counted


def test_time_does_not_undo_the_limit(user, password, clock):
    """However slowly: a failure a day for 100 days counts the same."""
    for day in range(LIMIT):
        api_login(Client(), user.email, WRONG, REMOTE_ADDR=f"10.0.{day}.1")
        clock.shift(86400 + 1)
    assert error_code(sign_in(user.email, password)) == "password_blocked"


def test_one_patient_ip_counts_too(user, password, clock):
    """An IP whose pair was locked no longer counts towards the account-wide lock, but every
    password it gets checked counts towards the limit."""
    checked = 0
    client = Client()
    while checked < LIMIT:
        response = api_login(client, user.email, WRONG, REMOTE_ADDR="203.0.113.66")
        if response.status_code == 429:
            clock.shift(int(response["Retry-After"]) + 1)
        else:
            checked += 1
    assert error_code(sign_in(user.email, password)) == "password_blocked"


def test_an_unknown_address_is_refused_the_same_way(user, clock):
    guess(user.email, LIMIT, clock)
    guess("nobody@example.com", LIMIT, clock, first_ip=5000)

    real = sign_in(user.email, WRONG)
    unknown = sign_in("nobody@example.com", WRONG)
    assert (real.status_code, real.json()) == (unknown.status_code, unknown.json())


def test_a_magic_link_sign_in_lifts_it(user, password, clock):
    guess(user.email, LIMIT, clock)
    client = Client()
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    page, confirm = open_link(client, last_link(user.email))
    assert client.post(confirm, link_form(page)).status_code == 302

    assert consecutive(user.email) == 0
    clock.shift(901)  # the temporary locks of the last guesses still run their course
    assert sign_in(user.email, password).status_code == 200


def test_a_password_reset_lifts_it(user, clock):
    guess(user.email, LIMIT, clock)
    client = Client()
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    page, confirm = open_link(client, last_link(user.email))
    new = "a fresh and long passphrase"
    response = client.post(confirm, link_form(page, new_password=new, new_password_confirm=new))
    assert response.status_code == 302

    clock.shift(901)
    assert sign_in(user.email, new).status_code == 200


def test_staff_unlock_lifts_it_and_the_admin_lists_the_account_as_locked(user, password,
                                                                        staff, clock):
    guess(user.email, LIMIT, clock)
    clock.shift(3600)  # every temporary lock is over: only the limit holds
    admin = Client()
    admin.force_login(staff)
    listed = admin.get(user_admin_url("changelist") + "?locked=yes").context["cl"].result_list
    assert [u.pk for u in listed] == [user.pk]

    admin.post(user_admin_url("changelist"), {"action": "unlock", "_selected_action": [user.pk]})

    assert sign_in(user.email, password).status_code == 200


def test_reaching_the_limit_is_signalled_once_and_audited(user, clock):
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs)

    signals.account_locked.connect(receiver)
    try:
        guess(user.email, LIMIT, clock)
        sign_in(user.email, WRONG)  # refused, not checked: no second signal
    finally:
        signals.account_locked.disconnect(receiver)

    unending = [s for s in sent if s["until"] is None]
    assert len(unending) == 1
    assert unending[0]["user"] == user and unending[0]["ip"] is None
    audited = [json.loads(e.data) for e in Event.objects.filter(action="accounts.account.locked")]
    assert [d for d in audited if d["until"] is None] == [{"ip": None, "until": None}]


def test_reauthentication_is_refused_too_and_counts(user, password, clock):
    guess(user.email, LIMIT - 1, clock)
    clock.shift(3600)
    client = Client()
    client.force_login(user)  # a session from before the guessing, say
    wrong = api_post(client, "reauthenticate/", {"password": WRONG})
    assert error_code(wrong) == "password_incorrect"  # the 100th failure in a row

    right = api_post(client, "reauthenticate/", {"password": password})
    assert right.status_code == 403
    assert error_code(right) == "password_blocked"


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT=10)
def test_the_limit_is_configurable(user, password, clock):
    guess(user.email, 10, clock)
    assert error_code(sign_in(user.email, password)) == "password_blocked"


@pytest.mark.parametrize("limit", [0, 101, 1000])
def test_a_limit_outside_nist_is_a_configuration_error(limit):
    with override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT=limit):
        found = [m.id for m in checks.run_checks() if m.id == "authsuite_accounts.E009"]
    assert found == ["authsuite_accounts.E009"]


def test_recovered_touches_only_that_account(user, clock):
    guess(user.email, 3, clock)
    guess("other@example.com", 3, clock, first_ip=100)
    lockout.recovered(user)
    assert consecutive(user.email) == 0
    assert consecutive("other@example.com") == 3
