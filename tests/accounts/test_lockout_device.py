"""Browsers an account signed in with stay usable for its owner, whatever others guess.

Every completed sign-in leaves a signed device cookie naming the account (by a keyed
digest) and the browser. A password check from that browser counts on a row of its own:
others' guesses (from one IP or many, fast or slow) lock the account or reach the
consecutive-failure limit for every other browser, never for this one, until the browser
itself fails ``LOCKOUT_THRESHOLD`` times.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from accounts import lockout
from accounts.models import LoginThrottle
from tests.accounts.support import api_login, api_post, error_code, freeze, html_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
WRONG = "not the right password"
COOKIE = "authsuite_device"
OWNER_IP = "198.51.100.7"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": None, "account": None},
                                               "reauthenticate": {"ip": None, "account": None}}
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = 3
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_ACCOUNT_THRESHOLD = 6
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT = 10


@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


@pytest.fixture
def known(user, password):
    """The owner's browser, which has signed in before and signed out since."""
    browser = Client(REMOTE_ADDR=OWNER_IP)
    assert api_login(browser, user.email, password).status_code == 200
    assert COOKIE in browser.cookies
    api_post(browser, "logout/")
    return browser


def guess_from_many_ips(email: str, count: int, clock=None) -> None:
    """``count`` wrong passwords checked, each from a new IP; with ``clock``, waiting out
    the account's locks (without, the account-wide lock stops them). Stops early where the
    consecutive limit is reached."""
    checked, n = 0, 0
    while checked < count:
        response = api_login(Client(), email, WRONG, REMOTE_ADDR=f"10.0.{n}.1")
        n += 1
        if response.status_code == 429 and clock is not None:
            clock.shift(int(response["Retry-After"]) + 1)
            continue
        if error_code(response) == "password_blocked":
            return
        assert error_code(response) == "invalid_credentials", response.content
        checked += 1


def guess_from_one_ip(email: str, count: int, clock, ip: str = "203.0.113.66") -> None:
    """``count`` wrong passwords checked from one IP, waiting out each of its locks."""
    checked = 0
    while checked < count:
        response = api_login(Client(), email, WRONG, REMOTE_ADDR=ip)
        if response.status_code == 429:
            clock.shift(int(response["Retry-After"]) + 1)
            continue
        checked += 1


def test_a_sign_in_leaves_a_device_cookie_that_names_no_one(user, password):
    browser = Client()
    response = html_login(browser, user.email, password)

    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == 365 * 86400
    assert user.email not in cookie.value
    assert user.email.split("@")[0] not in signing.b64_decode(
        cookie.value.split(":")[0].encode()).decode(errors="replace")


def test_the_same_browser_keeps_its_id_across_sign_ins(user, password, known):
    first = lockout.device_of(_request(known), user.email)
    assert api_login(known, user.email, password).status_code == 200
    assert lockout.device_of(_request(known), user.email) == first
    assert first.user_id == str(user.pk)


def test_one_patient_ip_reaching_the_limit_leaves_the_owners_browser_alone(
        user, password, known, clock):
    guess_from_one_ip(user.email, 10, clock)
    stranger = api_login(Client(), user.email, password, REMOTE_ADDR="192.0.2.200")
    assert error_code(stranger) == "password_blocked"

    assert api_login(known, user.email, password).status_code == 200
    # A success ends the failures in a row: other browsers may try again.
    assert api_login(Client(), user.email, password,
                     REMOTE_ADDR="192.0.2.200").status_code == 200


def test_many_ips_locking_the_account_leave_the_owners_browser_alone(user, password, known):
    guess_from_many_ips(user.email, 6)
    stranger = api_login(Client(), user.email, password, REMOTE_ADDR="192.0.2.200")
    assert error_code(stranger) == "account_locked"

    assert api_login(known, user.email, password).status_code == 200


def test_an_attacker_behind_the_owners_ip_does_not_lock_the_owners_browser(
        user, password, known):
    for _ in range(3):
        api_login(Client(), user.email, WRONG, REMOTE_ADDR=OWNER_IP)
    assert error_code(api_login(Client(), user.email, password,
                                REMOTE_ADDR=OWNER_IP)) == "account_locked"

    assert api_login(known, user.email, password).status_code == 200


def test_the_known_browser_locks_like_any_after_its_own_failures(user, password, known, clock):
    guess_from_many_ips(user.email, 10, clock)  # the limit, reached by others
    for _ in range(3):  # someone at the owner's browser, guessing
        assert error_code(api_login(known, user.email, WRONG)) == "invalid_credentials"
    row = LoginThrottle.objects.get(identifier=user.email, ip__startswith=lockout.DEVICE_PREFIX)
    assert row.lockouts == 1
    # It has locked: now it is a browser like any other, and the limit holds for it.
    assert error_code(api_login(known, user.email, password)) == "password_blocked"
    clock.shift(timedelta(hours=1))  # past its own lock
    assert error_code(api_login(known, user.email, password)) == "password_blocked"


def test_the_known_browsers_own_lock_holds_before_the_limit(user, password, known):
    for _ in range(3):
        assert error_code(api_login(known, user.email, WRONG)) == "invalid_credentials"
    assert error_code(api_login(known, user.email, password)) == "account_locked"
    # Other browsers are not held by the known browser's lock.
    assert api_login(Client(), user.email, password, REMOTE_ADDR="192.0.2.9").status_code == 200


def test_a_stolen_cookie_gets_its_guesses_once_not_once_a_day(user, password, known, clock):
    # Its row forgets nothing with time: two guesses a day would otherwise go on for ever,
    # past the consecutive limit that holds for everyone else.
    for _day in range(3):
        for _ in range(2):  # one less than LOCKOUT_THRESHOLD
            api_login(known, user.email, WRONG)
        clock.shift(timedelta(hours=25))
    row = LoginThrottle.objects.get(identifier=user.email, ip__startswith=lockout.DEVICE_PREFIX)
    assert row.lockouts >= 1  # it locked, and nothing but a success makes it spared again
    guess_from_many_ips(user.email, 10, clock)

    assert error_code(api_login(known, user.email, password)) == "password_blocked"


def test_a_cookie_spares_only_the_account_it_was_issued_to(user, password, known, clock):
    # The address passes to another account (closed, then signed up again): the old
    # browser's cookie names the address, but not this account.
    address = user.email
    user.delete()
    newcomer = UserFactory(email=address, password=password)
    guess_from_many_ips(newcomer.email, 10, clock)

    assert error_code(api_login(known, address, password)) == "password_blocked"


def test_the_cookie_name_is_a_setting(user, password, settings):
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME = "__Host-known"
    browser = Client(REMOTE_ADDR=OWNER_IP)
    response = api_login(browser, user.email, password)
    assert "__Host-known" in response.cookies
    assert response.cookies["__Host-known"]["secure"] is True  # browsers drop it otherwise
    assert response.cookies["__Host-known"]["path"] == "/"
    assert not response.cookies["__Host-known"]["domain"]
    assert COOKIE not in response.cookies
    assert lockout.device_of(_request(browser), user.email) is not None


def test_a_cookie_of_another_account_is_no_help(user, password, clock):
    other = UserFactory(password=password)
    browser = Client(REMOTE_ADDR=OWNER_IP)
    assert api_login(browser, other.email, password).status_code == 200
    api_post(browser, "logout/")
    guess_from_many_ips(user.email, 10, clock)

    assert error_code(api_login(browser, user.email, password)) == "password_blocked"


@pytest.mark.parametrize("value", [
    "garbage", "", "é" * 50, "a:b:c", "x" * 5000,
    signing.dumps({"a": "0" * 32, "d": "A" * 22}, salt="another salt"),
    signing.dumps(["not", "a", "dict"], salt=lockout.DEVICE_SALT),
    signing.dumps({"a": None, "d": 7}, salt=lockout.DEVICE_SALT),
])
def test_a_forged_or_broken_cookie_is_ignored(user, password, value, clock):
    guess_from_many_ips(user.email, 10, clock)
    browser = Client(REMOTE_ADDR=OWNER_IP)
    browser.cookies[COOKIE] = value

    assert error_code(api_login(browser, user.email, password)) == "password_blocked"
    assert html_login(browser, user.email, password).status_code == 200  # a form error


def test_a_cookie_older_than_its_lifetime_is_ignored(user, password, known, clock):
    clock.shift(timedelta(days=366))
    guess_from_many_ips(user.email, 10, clock)

    assert error_code(api_login(known, user.email, password)) == "password_blocked"


def test_turned_off_no_cookie_and_no_exemption(user, password, settings, clock):
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_DAYS = 0
    browser = Client(REMOTE_ADDR=OWNER_IP)
    assert COOKIE not in api_login(browser, user.email, password).cookies
    api_post(browser, "logout/")
    guess_from_many_ips(user.email, 10, clock)

    assert error_code(api_login(browser, user.email, password)) == "password_blocked"


def test_reauthentication_from_the_owners_browser_is_spared_too(user, password, clock):
    browser = Client(REMOTE_ADDR=OWNER_IP)
    assert api_login(browser, user.email, password).status_code == 200
    guess_from_many_ips(user.email, 10, clock)

    assert api_post(browser, "reauthenticate/", {"password": password}).status_code == 200


def _request(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    return request


def _signed(payload: bytes, salt: str, *, compressed: bool = False) -> str:
    """A value signed with the site's key, as only someone holding SECRET_KEY could make."""
    import zlib

    data = zlib.compress(payload) if compressed else payload
    encoded = signing.b64_encode(data).decode()
    return signing.TimestampSigner(salt=salt).sign(("." if compressed else "") + encoded)


@pytest.mark.parametrize("salt", [lockout.DEVICE_SALT, "authsuite.mfa.trust"])
@pytest.mark.parametrize("payload", [
    ("deep", b"[" * 5000 + b"]" * 5000),
    ("compressed", b'{"a": "' + b"A" * 1_000_000 + b'"}'),
    ("not zlib", b"not zlib at all"),
    ("odd id", b'{"id": [1, 2], "u": "1", "p": "x", "a": "x", "d": "x"}'),
], ids=lambda p: p[0] if isinstance(p, tuple) else p)
def test_a_validly_signed_cookie_with_a_bad_payload_is_ignored(user, password, salt, payload):
    # The demo's embedded SECRET_KEY is public: a visitor could sign anything with it.
    name, data = payload
    value = (signing.TimestampSigner(salt=salt).sign("." + signing.b64_encode(data).decode())
             if name == "not zlib" else _signed(data, salt, compressed=name == "compressed"))
    browser = Client(raise_request_exception=False)
    browser.cookies["authsuite_device"] = value
    browser.cookies["authsuite_mfa_trust"] = value
    assert api_login(browser, user.email, password).status_code == 200
