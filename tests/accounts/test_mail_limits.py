"""Mail-sending requests (magic link, password reset) are limited per IP, per (account, IP)
and per account; one IP cannot use up an account's allowance and so stop its owner."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.accounts.support import api_post, error_code, freeze
from tests.helpers import outbox_for

pytestmark = pytest.mark.django_db

FLOWS = {"magic_link": "magic-link/", "password_reset": "password/reset/"}


@pytest.fixture(params=list(FLOWS))
def flow(request):
    return request.param


@pytest.fixture(autouse=True)
def frozen(time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test


def ask(client, flow, email, ip):
    return api_post(client, FLOWS[flow], {"email": email}, REMOTE_ADDR=ip).status_code


def test_one_ip_gets_three_per_account_then_waits(client, user, flow):
    codes = [ask(client, flow, user.email, "203.0.113.1") for _ in range(5)]

    assert codes == [202, 202, 202, 429, 429]
    assert len(outbox_for(user.email)) == 3


def test_one_ip_hammering_an_account_does_not_stop_its_owner(client, user, flow):
    attacker, owner = "203.0.113.66", "198.51.100.7"
    for _ in range(20):  # the IP's own limit is 20 an hour
        ask(client, flow, user.email, attacker)

    assert ask(client, flow, user.email, owner) == 202
    assert len(outbox_for(user.email)) == 4


def test_several_ips_together_reach_the_account_limit(client, user, flow):
    codes = [ask(client, flow, user.email, f"203.0.113.{n}") for n in range(1, 5) for _ in range(3)]

    assert codes == [202] * 10 + [429] * 2  # ten per account in 15 minutes
    assert ask(client, flow, user.email, "198.51.100.7") == 429
    assert len(outbox_for(user.email)) == 10


def test_other_accounts_are_not_affected(client, user, flow):
    for _ in range(4):
        ask(client, flow, user.email, "203.0.113.1")

    assert ask(client, flow, "someone.else@example.com", "203.0.113.1") == 202


def test_unknown_addresses_are_limited_the_same_way(client, flow):
    codes = [ask(client, flow, "nobody@example.com", "203.0.113.1") for _ in range(4)]
    assert codes == [202, 202, 202, 429]


def test_the_limit_is_per_address_whatever_its_case(client, user, flow):
    codes = [ask(client, flow, email, "203.0.113.1")
             for email in (user.email, user.email.upper(), user.email.title(), user.email)]
    assert codes == [202, 202, 202, 429]


def test_without_a_pair_limit_every_request_counts_for_the_account(client, user, flow):
    limits = {flow: {"account_ip": None}}
    with override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS=limits):
        codes = [ask(client, flow, user.email, "203.0.113.1") for _ in range(11)]
        assert codes == [202] * 10 + [429]
        assert ask(client, flow, user.email, "198.51.100.7") == 429


def test_the_refusal_says_when_to_try_again(client, user, flow):
    for _ in range(3):
        ask(client, flow, user.email, "203.0.113.1")

    response = api_post(client, FLOWS[flow], {"email": user.email}, REMOTE_ADDR="203.0.113.1")
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_addresses_of_one_ipv6_64_count_as_one_client(client, user, flow):
    codes = [ask(client, flow, user.email, f"2001:db8:1:2::{n:x}") for n in range(1, 6)]

    assert codes == [202, 202, 202, 429, 429]
    assert ask(client, flow, user.email, "2001:db8:1:3::1") == 202  # another /64


def test_requests_refused_for_their_ip_do_not_use_the_owners_allowance(client, user, flow):
    attacker = "203.0.113.66"
    for n in range(20):  # the IP's hourly limit, spent on other addresses
        ask(client, flow, f"someone{n}@example.com", attacker)
    for _ in range(5):
        assert ask(client, flow, user.email, attacker) == 429

    owner_codes = [ask(client, flow, user.email, f"198.51.100.{n}") for n in range(1, 5)
                   for _ in range(3)]
    assert owner_codes == [202] * 10 + [429] * 2  # the whole allowance of ten


# Sign-up with a taken address mails its owner that they have an account: the same limits.

def sign_up(client, email, ip):
    return api_post(client, "signup/", {"email": email, "password": "a long enough passphrase"},
                    REMOTE_ADDR=ip).status_code


def test_sign_up_one_ip_gets_three_per_address_then_waits(client, user):
    codes = [sign_up(client, user.email.upper(), "203.0.113.1") for _ in range(5)]

    assert codes == [201, 201, 201, 429, 429]
    assert len(outbox_for(user.email)) == 3
    assert sign_up(client, "someone.new@example.com", "203.0.113.1") == 201


def test_sign_up_several_ips_together_reach_the_address_limit(client, user):
    codes = [sign_up(client, user.email, f"203.0.113.{n}") for n in range(1, 5) for _ in range(3)]

    assert codes == [201] * 10 + [429] * 2
    assert len(outbox_for(user.email)) == 10


def test_sign_up_a_new_address_is_limited_alike(client):
    """The limit cannot tell a taken address from a new one either: the first sign-up
    makes the account, and the next ones count as for any other address."""
    codes = [sign_up(client, "nobody@example.com", "203.0.113.1") for _ in range(4)]
    assert codes == [201, 201, 201, 429]
