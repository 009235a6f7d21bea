"""Lockout and rate limits on sign-in: per (account, IP) locks that double up to a bound, no
lockout of a victim by one attacker, no enumeration, staff unlock, per-IP and per-account rate
limits, and which client IP counts (X-Forwarded-For only behind trusted proxies)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts.models import LoginThrottle, UserSession
from tests.accounts.support import (
    api_login,
    api_post,
    error_code,
    freeze,
    html_login,
    is_signed_in,
)
from tests.factories import UserFactory
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db
WRONG = "not the right password"
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"
NO_RATE_LIMITS = {"login": {"ip": None, "account": None}}


def fail(client, email, ip=ATTACKER, via="api"):
    login = api_login if via == "api" else html_login
    return login(client, email, WRONG, REMOTE_ADDR=ip)


def lock(client, email, ip=ATTACKER, via="api"):
    for _ in range(5):
        response = fail(client, email, ip, via)
        assert response.status_code in (200, 400), response.content
    return response


@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


# --- per (account, IP) ----------------------------------------------------------------------

def test_api_lock_after_threshold_with_retry_after(client, user, password):
    lock(client, user.email)

    response = api_login(client, user.email, password, REMOTE_ADDR=ATTACKER)

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert error_code(response) == "account_locked"
    assert response.json()["error"]["message"] == (
        "Too many failed attempts. Try again in 60 seconds."
    )
    assert not is_signed_in(client)


def test_html_lock_after_threshold_with_retry_after(client, user, password):
    fourth = None
    for _ in range(4):
        fourth = fail(client, user.email, via="html")
    assert fourth.status_code == 200
    assert b"The email address or password is incorrect." in fourth.content
    fail(client, user.email, via="html")

    response = html_login(client, user.email, password, REMOTE_ADDR=ATTACKER)

    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert b"Too many failed attempts. Try again in 60 seconds." in response.content
    assert "_auth_user_id" not in client.session


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=3)
def test_threshold_is_configurable(client, user, password):
    for _ in range(3):
        fail(client, user.email)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 429


def test_lock_ends_after_its_time(client, user, password, clock):
    lock(client, user.email)
    clock.shift(59)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 429
    clock.shift(2)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 200


def test_retry_after_counts_down(client, user, password, clock):
    lock(client, user.email)
    clock.shift(45)
    response = api_login(client, user.email, password, REMOTE_ADDR=ATTACKER)
    assert response["Retry-After"] == "15"


def test_locked_pair_does_not_stop_the_same_account_from_another_ip(user, password):
    attacker, victim = Client(), Client()
    lock(attacker, user.email)

    assert api_login(victim, user.email, password, REMOTE_ADDR=VICTIM).status_code == 200
    assert is_signed_in(victim)
    assert html_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 302


def test_addresses_of_one_ipv6_64_are_one_client_for_the_lock(client, user, password):
    for n in range(1, 6):
        fail(client, user.email, ip=f"2001:db8:7:7::{n:x}")

    locked = api_login(client, user.email, password, REMOTE_ADDR="2001:db8:7:7::99")
    assert locked.status_code == 429
    other = api_login(Client(), user.email, password, REMOTE_ADDR="2001:db8:7:8::1")
    assert other.status_code == 200  # another /64 is another client


def test_email_case_does_not_dodge_the_lock(client, user, password):
    for typed in (user.email, user.email.upper(), user.email.title(), f" {user.email} ", user.email):
        fail(client, typed)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 429


def test_successful_sign_in_clears_the_failures_of_its_ip(client, user, password):
    for _ in range(4):
        fail(client, user.email)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 200
    client.post("/api/auth/v1/logout/")
    for _ in range(4):
        assert fail(client, user.email).status_code == 400


# --- an attacker from one IP cannot lock the victim out -------------------------------------

def hammer(client, email, clock, attempts: int) -> list[int]:
    """Guess as fast as the server allows, waiting out each lock and rate limit."""
    codes = []
    for _ in range(attempts):
        response = fail(client, email)
        codes.append(response.status_code)
        if response.status_code == 429:
            clock.shift(int(response["Retry-After"]) + 1)
    return codes


def test_one_attacker_cannot_lock_the_victim_out(user, password, clock):
    attacker = Client()
    codes = hammer(attacker, user.email, clock, attempts=60)
    assert codes.count(429) >= 5  # the attacker was stopped, again and again

    victim = Client()
    response = api_login(victim, user.email, password, REMOTE_ADDR=VICTIM)
    assert response.status_code == 200, response.content
    assert is_signed_in(victim)


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS)
@pytest.mark.parametrize("failures", [20, 25, 40])
def test_a_patient_attacker_never_reaches_the_account_wide_lock(user, password, clock,
                                                                failures):
    """More failures from one IP than the account-wide threshold (20), waiting out each lock."""
    attacker = Client()
    done = 0
    while done < failures:
        response = fail(attacker, user.email)
        if response.status_code == 429:
            clock.shift(int(response["Retry-After"]) + 1)
        else:
            done += 1

    victim = Client()
    response = api_login(victim, user.email, password, REMOTE_ADDR=VICTIM)
    assert response.status_code == 200, response.content
    assert is_signed_in(victim)


def test_one_attacker_cannot_lock_the_victim_out_while_attacking(user, password, clock):
    attacker = Client()
    for minute in range(30):
        for _ in range(12):
            fail(attacker, user.email)
        victim = Client()
        response = html_login(victim, user.email, password, REMOTE_ADDR=VICTIM)
        assert response.status_code == 302, (minute, response.status_code)
        clock.shift(60)


def test_many_ips_do_lock_the_account_for_everyone(user, password):
    attackers = [f"203.0.113.{n}" for n in range(1, 5)]
    with override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS):
        for ip in attackers:
            lock(Client(), user.email, ip)
        response = api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM)
    assert response.status_code == 429
    assert error_code(response) == "account_locked"


def test_sign_in_without_a_known_ip_cannot_lock_others_out(user, password):
    for _ in range(6):
        api_login(Client(), user.email, WRONG, REMOTE_ADDR="")
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200


# --- progressive ----------------------------------------------------------------------------

@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS)
def test_each_lock_doubles_up_to_the_maximum(client, user, password, clock):
    waits = []
    for _ in range(7):
        lock(client, user.email)
        response = api_login(client, user.email, password, REMOTE_ADDR=ATTACKER)
        assert response.status_code == 429
        waits.append(int(response["Retry-After"]))
        clock.shift(waits[-1] + 1)
    assert waits == [60, 120, 240, 480, 900, 900, 900]


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS,
                   AUTHSUITE_ACCOUNTS_LOCKOUT_BASE=10, AUTHSUITE_ACCOUNTS_LOCKOUT_MAX=50)
def test_lock_base_and_maximum_are_configurable(client, user, password, clock):
    waits = []
    for _ in range(4):
        lock(client, user.email)
        waits.append(int(fail(client, user.email)["Retry-After"]))
        clock.shift(waits[-1] + 1)
    assert waits == [10, 20, 40, 50]


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS)
def test_history_is_forgotten_after_a_quiet_day(client, user, clock):
    lock(client, user.email)
    clock.shift(61)
    lock(client, user.email)
    assert fail(client, user.email)["Retry-After"] == "120"
    clock.shift(86400 + 121)
    lock(client, user.email)
    assert fail(client, user.email)["Retry-After"] == "60"


# --- unknown emails lock the same -----------------------------------------------------------

@pytest.mark.parametrize("via", ["html", "api"])
def test_unknown_email_locks_exactly_like_a_real_one(user, via, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test

    def run(email):
        client = Client()
        seen = []
        for _ in range(7):
            response = fail(client, email, via=via)
            body = response.content.decode().replace(email, "EMAIL")
            if via == "html":
                body = body.split('<div class="errors"', 1)[-1].split("</div>", 1)[0]
            seen.append((response.status_code, response.get("Retry-After"), body))
        return seen

    real, unknown = run(user.email), run("nobody@example.com")
    assert real == unknown
    assert [code for code, _, _ in real][-2:] == [429, 429]


def test_unknown_email_is_rate_limited_like_a_real_one(user, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test

    def codes(email):
        client = Client()
        return [fail(client, email, ip=f"192.0.2.{n}").status_code for n in range(12)]

    assert codes(user.email) == codes("nobody@example.com")


# --- staff unlock ---------------------------------------------------------------------------

def test_staff_unlock_clears_the_lock(client, user, password, staff):
    lock(client, user.email)
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 429

    admin = Client()
    admin.force_login(staff)
    response = admin.post(user_admin_url("changelist"),
                          {"action": "unlock", "_selected_action": [user.pk]}, follow=True)
    assert b"Unlocked 1 users." in response.content

    assert not LoginThrottle.objects.filter(identifier=user.email).exists()
    assert api_login(client, user.email, password, REMOTE_ADDR=ATTACKER).status_code == 200


def test_staff_unlock_also_ends_the_per_account_rate_limit(user, password, staff,
                                                            time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    for n in range(10):
        api_login(Client(), user.email, WRONG, REMOTE_ADDR=f"192.0.2.{n}")
    other = UserFactory(email="other@example.com")
    for n in range(10):
        api_login(Client(), other.email, WRONG, REMOTE_ADDR=f"192.0.2.{n + 20}")
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 429

    admin = Client()
    admin.force_login(staff)
    admin.post(user_admin_url("changelist"), {"action": "unlock", "_selected_action": [user.pk]})

    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200
    # Only that account's counter: the other account is still limited.
    response = api_login(Client(), other.email, "correct horse battery staple",
                         REMOTE_ADDR=VICTIM)
    assert error_code(response) == "rate_limited"


@pytest.mark.parametrize("via", ["api", "html"])
def test_staff_unlock_ends_the_rate_limit_of_the_owners_own_browser(user, password, staff,
                                                                     via, clock):
    # A browser the account signed in with counts its sign-ins under a per-account limit of
    # its own. Its owner, mistyping, ran into it: unlocked by staff, that count stayed, and
    # the owner's next sign-in there, with the right password, was still a 429.
    login = api_login if via == "api" else html_login
    browser = Client(REMOTE_ADDR=VICTIM)
    assert api_login(browser, user.email, password).status_code == 200
    api_post(browser, "logout/")
    codes = [error_code(fail(browser, user.email, VICTIM)) for _ in range(11)]
    assert codes == ["invalid_credentials"] * 5 + ["account_locked"] * 5 + ["rate_limited"]

    assert b"Unlocked 1 users." in unlock_as_staff(staff, user).content

    response = login(browser, user.email, password)
    assert response.status_code in (200, 302), response.content[:300]
    assert is_signed_in(browser)


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS={"login": {"account_ip": "3/15m"}})
def test_staff_unlock_ends_the_rate_limit_of_the_owners_ip_for_the_account(
        user, password, staff, clock):
    # With a limit per (account, IP), the owner's mistakes from their own IP ran into it;
    # staff unlocking the account left that count as it was.
    codes = [error_code(fail(Client(), user.email, VICTIM)) for _ in range(4)]
    assert codes == ["invalid_credentials"] * 3 + ["rate_limited"]

    assert b"Unlocked 1 users." in unlock_as_staff(staff, user).content

    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200


def unlock_as_staff(staff, *users):
    admin = Client()
    admin.force_login(staff)
    return admin.post(user_admin_url("changelist"), {
        "action": "unlock", "_selected_action": [u.pk for u in users]}, follow=True)


@pytest.fixture
def unlocked_signals():
    from accounts import signals

    sent = []

    def receiver(sender, user, by, **kwargs):
        sent.append((user.pk, by.pk if by else None))

    signals.account_unlocked.connect(receiver, dispatch_uid="test_unlocked_signals")
    yield sent
    signals.account_unlocked.disconnect(dispatch_uid="test_unlocked_signals")


def unlocked_events(user) -> int:
    from audit.models import Event

    return Event.objects.filter(action="accounts.account.unlocked",
                                target_id=str(user.pk)).count()


def test_unlocking_an_account_that_is_not_locked_does_nothing_but_say_so(
        user, password, staff, unlocked_signals, clock):
    # It recorded "Sign-in unlocked by staff" on the owner's security page and sent
    # account_unlocked for an account that was never locked. A sign-in a moment ago left a
    # rate-limit count under its limit: nothing to unlock either.
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200

    page = unlock_as_staff(staff, user)

    text = page.content.decode()
    assert ("Nothing was locked for 1 user (no lock, no failed sign-in): nothing was done to "
            "it.") in text
    assert "Unlocked" not in text
    assert unlocked_signals == []
    assert unlocked_events(user) == 0


def test_unlocking_several_counts_only_those_unlocked(user, password, staff, unlocked_signals,
                                                      clock):
    locked = UserFactory(email="locked@example.com")
    failed_once = UserFactory(email="failed.once@example.com")
    limited = UserFactory(email="limited@example.com", password=password)
    lock(Client(), locked.email)
    fail(Client(), failed_once.email)
    # Ten sign-ins in five minutes, all with the password: the per-account rate limit
    # refuses the eleventh, with no failure remembered anywhere.
    for n in range(10):
        assert api_login(Client(), limited.email, password,
                         REMOTE_ADDR=f"192.0.2.{n}").status_code == 200
    assert not LoginThrottle.objects.filter(identifier=limited.email).exists()
    refused = api_login(Client(), limited.email, password, REMOTE_ADDR=VICTIM)
    assert error_code(refused) == "rate_limited"

    page = unlock_as_staff(staff, user, locked, failed_once, limited)

    text = page.content.decode()
    assert "Unlocked 3 users." in text
    assert ("Nothing was locked for 1 user (no lock, no failed sign-in): nothing was done to "
            "it.") in text
    assert sorted(unlocked_signals) == sorted(
        (u.pk, staff.pk) for u in (locked, failed_once, limited))
    assert [unlocked_events(u) for u in (user, locked, failed_once, limited)] == [0, 1, 1, 1]
    assert not LoginThrottle.objects.exists()
    assert api_login(Client(), limited.email, password, REMOTE_ADDR=VICTIM).status_code == 200

    # Unlocked already: a second unlock finds nothing left.
    again = unlock_as_staff(staff, locked, limited).content.decode()
    assert "Nothing was locked for 2 users (no lock, no failed sign-in): nothing was done " \
           "to them." in again
    assert len(unlocked_signals) == 3


def test_locked_filter_in_the_admin(client, user, staff):
    lock(client, user.email)
    admin = Client()
    admin.force_login(staff)
    page = admin.get(user_admin_url("changelist") + "?locked=yes")
    assert [listed.pk for listed in page.context["cl"].result_list] == [user.pk]


# --- rate limits ----------------------------------------------------------------------------

def test_per_ip_rate_limit(client, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    codes = [
        api_login(client, f"person{n}@example.com", WRONG, REMOTE_ADDR=ATTACKER).status_code
        for n in range(31)
    ]
    assert codes == [400] * 30 + [429]
    response = api_login(client, "someone@example.com", WRONG, REMOTE_ADDR=ATTACKER)
    assert error_code(response) == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 300
    html = html_login(client, "someone@example.com", WRONG, REMOTE_ADDR=ATTACKER)
    assert html.status_code == 429
    assert int(html["Retry-After"]) > 0
    assert b"Too many attempts. Try again in" in html.content
    # Another IP is not concerned.
    assert api_login(client, "someone@example.com", WRONG, REMOTE_ADDR=VICTIM).status_code == 400


def test_per_account_rate_limit(user, password, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    codes = [
        api_login(Client(), user.email, WRONG, REMOTE_ADDR=f"192.0.2.{n}").status_code
        for n in range(11)
    ]
    assert codes == [400] * 10 + [429]
    response = api_login(Client(), user.email, password, REMOTE_ADDR="192.0.2.200")
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 300
    html = html_login(Client(), user.email, password, REMOTE_ADDR="192.0.2.201")
    assert html.status_code == 429
    assert int(html["Retry-After"]) > 0


def test_rate_limit_window_passes(user, password, clock):
    for n in range(10):
        api_login(Client(), user.email, WRONG, REMOTE_ADDR=f"192.0.2.{n}")
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 429
    clock.shift(301)
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS={"login": {"ip": "3/m"}})
def test_rate_limits_are_configurable(client, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    codes = [api_login(client, f"p{n}@example.com", WRONG).status_code for n in range(4)]
    assert codes == [400, 400, 400, 429]


# --- client IP ------------------------------------------------------------------------------

def signed_in_ip(**meta) -> str:
    from tests.factories import UserFactory

    user = UserFactory()
    client = Client()
    assert api_login(client, user.email, "correct horse battery staple", **meta).status_code == 200
    return UserSession.objects.get(user=user).ip


def test_x_forwarded_for_is_ignored_by_default(client, user, password):
    for n in range(5):
        api_login(client, user.email, WRONG, REMOTE_ADDR=ATTACKER,
                  HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")
    response = api_login(client, user.email, password, REMOTE_ADDR=ATTACKER,
                         HTTP_X_FORWARDED_FOR="10.9.8.200")
    assert response.status_code == 429
    assert signed_in_ip(REMOTE_ADDR=VICTIM, HTTP_X_FORWARDED_FOR="1.2.3.4") == VICTIM
    assert set(LoginThrottle.objects.values_list("ip", flat=True)) == {ATTACKER, ""}


@override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=1)
def test_one_trusted_proxy(client, user, password):
    proxy = "10.0.0.1"
    assert signed_in_ip(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5") == "203.0.113.5"
    # A client-supplied entry on the left is never believed.
    assert signed_in_ip(REMOTE_ADDR=proxy,
                        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5") == "203.0.113.5"
    # Without the header the proxy itself is all we know.
    assert signed_in_ip(REMOTE_ADDR=proxy) == proxy

    for n in range(5):
        api_login(client, user.email, WRONG, REMOTE_ADDR=proxy,
                  HTTP_X_FORWARDED_FOR=f"10.9.8.{n}, {ATTACKER}")
    assert api_login(client, user.email, password, REMOTE_ADDR=proxy,
                     HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    # Another client behind the same proxy is someone else.
    assert api_login(Client(), user.email, password, REMOTE_ADDR=proxy,
                     HTTP_X_FORWARDED_FOR=VICTIM).status_code == 200


@override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=2)
def test_two_trusted_proxies(client):
    assert signed_in_ip(REMOTE_ADDR="10.0.0.2",
                        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5, 10.0.0.1") == "203.0.113.5"
    assert signed_in_ip(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1") == "10.0.0.2"


#: An IPv6 address with a zone id: any length, any characters, and Python's parser takes it.
ZONED = "fe80::1%" + "eth0\x00\r\n" + "z" * 5000


def signed_in_zoned(via: str, **meta) -> tuple[set[str], str]:
    """A failed sign-in, then a good one, through the page or the API, from the address
    ``meta`` gives: the lockout pairs the failure counted, and the IP the session records.
    No IP column any of it writes holds a zone."""
    from audit.models import Event

    user = UserFactory()
    login, done = (api_login, 200) if via == "api" else (html_login, 302)
    response = login(Client(), user.email, WRONG, **meta)
    assert response.status_code in (200, 400), response.status_code
    counted = set(LoginThrottle.objects.filter(identifier=user.email)
                  .values_list("ip", flat=True))
    response = login(Client(), user.email, "correct horse battery staple", **meta)
    assert response.status_code == done, response.status_code
    ips = {*counted, *UserSession.objects.values_list("ip", flat=True),
           *Event.objects.values_list("ip", flat=True)}
    assert not any("%" in ip for ip in ips if ip), ips
    return counted, UserSession.objects.get(user=user).ip


@pytest.mark.parametrize("via", ["api", "html"])
def test_a_zone_id_is_no_part_of_the_client_ip(via):
    assert signed_in_zoned(via, REMOTE_ADDR=ZONED) == ({"fe80::/64", ""}, "fe80::1")


@override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize("via", ["api", "html"])
def test_a_zone_id_forwarded_by_a_trusted_proxy_is_dropped(via):
    forwarded = "6.6.6.6, 2001:db8:5::5%" + "z" * 5000
    assert signed_in_zoned(via, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded) == (
        {"2001:db8:5::/64", ""}, "2001:db8:5::5")


@pytest.mark.postgres
@override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize("via", ["api", "html"])
def test_a_zone_id_fits_the_ip_columns_on_postgres(via):
    """PostgreSQL, unlike SQLite, holds a column to its length and an inet to an address:
    a zone there was a 500 at the first write."""
    signed_in_zoned(via, REMOTE_ADDR=ZONED)
    signed_in_zoned(via, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="2001:db8::5%" + "z" * 50)


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS,
                   AUTHSUITE_ACCOUNTS_LOCKOUT_ACCOUNT_THRESHOLD=10)
def test_account_threshold_is_configurable(user, password):
    lock(Client(), user.email, "203.0.113.1")
    assert api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM).status_code == 200
    Client().post("/api/auth/v1/logout/")
    for ip in ("203.0.113.2", "203.0.113.3"):
        lock(Client(), user.email, ip)
    response = api_login(Client(), user.email, password, REMOTE_ADDR=VICTIM)
    assert response.status_code == 429
    assert error_code(response) == "account_locked"


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=NO_RATE_LIMITS,
                   AUTHSUITE_ACCOUNTS_LOCKOUT_RESET_AFTER=600)
def test_reset_after_is_configurable(client, user, clock):
    lock(client, user.email)
    clock.shift(61)
    lock(client, user.email)
    assert fail(client, user.email)["Retry-After"] == "120"
    clock.shift(121 + 600)
    lock(client, user.email)
    assert fail(client, user.email)["Retry-After"] == "60"
