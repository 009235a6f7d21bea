"""Races on PostgreSQL: one TOTP code or one recovery code sent by several requests at the
same moment is accepted exactly once; setups begun at once turn on one authenticator app.

Each thread has its own test client (so its own database connection) and a barrier
releases them together. Real transactions: a race needs commits to race with.
"""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit.models import Event
from mfa import devices, totp
from mfa import flows as mfa_flows
from mfa.flows import factors, verification
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice
from tests.helpers import meeting, race
from tests.mfa.support import (
    AUTH_KEY,
    DIGIT_FAMILIES,
    api_delete,
    api_post,
    begin_setup,
    enroll,
    in_digits,
    login,
    page_codes,
    page_secret,
    sign_in_fully,
    subjects,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REQUESTS = 4
CHALLENGE = reverse("mfa:challenge")
SETUP = reverse("mfa:totp_setup")


@pytest.fixture
def pending(user, password):
    """Browsers that all passed the password and wait at the challenge."""
    secret, codes = enroll(user)
    clients = [Client() for _ in range(REQUESTS)]
    for client in clients:
        assert login(client, user, password)["Location"] == CHALLENGE
    return secret, codes, clients


def test_one_totp_code_verified_at_once_passes_once(user, clock):
    secret, _ = enroll(user, codes=False)
    code = clock.code(secret)
    device_id = TOTPDevice.objects.get(user=user).pk
    results = race(REQUESTS, lambda i: totp.verify(TOTPDevice.objects.get(pk=device_id), code))
    assert sorted(results) == [False] * (REQUESTS - 1) + [True]
    assert TOTPDevice.objects.get(pk=device_id).last_t == int(clock.t) // 30


def test_one_totp_code_at_several_challenges_signs_in_once(pending, clock, settings):
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0  # the losers' failures must not matter here
    secret, _, clients = pending
    code = clock.code(secret)
    statuses = race(REQUESTS, lambda i: clients[i].post(CHALLENGE, {"code": code}).status_code)
    assert sorted(statuses) == [200] * (REQUESTS - 1) + [302]
    assert sum(AUTH_KEY in c.session for c in clients) == 1


def spellings(code: str) -> list[str]:
    """``code`` in REQUESTS spellings, none of them ASCII digits: each family, then a mix."""
    fullwidth, arabic, _ = DIGIT_FAMILIES.values()
    half = len(code) // 2
    mixed = in_digits(code[:half], fullwidth) + in_digits(code[half:], arabic)
    return [*(in_digits(code, digits) for digits in DIGIT_FAMILIES.values()), mixed]


def test_one_totp_code_in_several_scripts_digits_signs_in_once(pending, clock, settings):
    """The same code typed with full-width, Arabic-Indic and mixed digits at once: read
    before it is checked, it is one code, and one time step is used once."""
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    secret, _, clients = pending
    typed = spellings(clock.code(secret))
    statuses = race(REQUESTS, lambda i: clients[i].post(CHALLENGE, {"code": typed[i]}).status_code)
    assert sorted(statuses) == [200] * (REQUESTS - 1) + [302]
    assert sum(AUTH_KEY in c.session for c in clients) == 1


def test_one_recovery_code_in_several_scripts_digits_works_once(pending, settings):
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    _, codes, clients = pending
    typed = spellings(next(c for c in codes if any(ch.isdigit() for ch in c)))
    statuses = race(REQUESTS, lambda i: clients[i].post(CHALLENGE, {"code": typed[i]}).status_code)
    assert sorted(statuses) == [200] * (REQUESTS - 1) + [302]
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


def test_one_totp_code_over_the_api_signs_in_once(user, password, clock, settings):
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    secret, _ = enroll(user)
    clients = [Client() for _ in range(REQUESTS)]
    for client in clients:
        api_post(client, "login/", {"email": user.email, "password": password})
    code = clock.code(secret)
    bodies = race(REQUESTS, lambda i: api_post(clients[i], "mfa/challenge/", {"code": code}).json())
    assert sum(b == {"status": "authenticated"} for b in bodies) == 1
    assert sum("error" in b for b in bodies) == REQUESTS - 1


def test_one_recovery_code_consumed_at_once_works_once(user):
    _, codes = enroll(user)
    device_id = RecoveryCodeSet.objects.get(user=user).pk
    results = race(REQUESTS, lambda i: RecoveryCodeSet.objects.get(pk=device_id).verify_token(
        codes[0]))
    assert sorted(results) == [False] * (REQUESTS - 1) + [True]
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


def test_one_recovery_code_at_several_challenges_signs_in_once(pending, settings):
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    _, codes, clients = pending
    statuses = race(REQUESTS, lambda i: clients[i].post(CHALLENGE, {"code": codes[0]}).status_code)
    assert sorted(statuses) == [200] * (REQUESTS - 1) + [302]
    assert sum(AUTH_KEY in c.session for c in clients) == 1
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


def test_one_activation_code_activates_once(user, password, clock):
    """Tabs of one session turning its pending app on with the same code: one recovery-code
    set."""
    first = Client()
    login(first, user, password)
    page = begin_setup(first).content.decode()
    secret = page.split('id="totp-secret">', 1)[1].split("<", 1)[0]
    clients = [first]
    for _ in range(REQUESTS - 1):  # the same session cookie, as tabs of one browser share
        tab = Client()
        tab.cookies = first.cookies
        clients.append(tab)
    assert TOTPDevice.objects.filter(user=user).count() == 1
    code = clock.code(secret)
    responses = race(REQUESTS, lambda i: clients[i].post(SETUP, {"code": code}))
    pages = [response.content for response in responses]
    assert sum(len(page_codes(page)) == 10 for page in pages) == 1
    refused = [r for r in responses if len(page_codes(r.content)) != 10]
    assert len(refused) == REQUESTS - 1
    # Each other tab is refused, by what it found when it ran: its code used (it read the
    # setup still pending), the setup over (it came after the first's commit), or, when it
    # came after the first's step up gave the session a new key, the key it carried ended
    # (a browser's tabs share the new cookie from then on; these test clients sent theirs).
    login_url = reverse("accounts:login")
    assert all(
        (r.status_code == 200 and (b"That code is not valid." in r.content
                                   or b"Start the setup again." in r.content))
        or (r.status_code == 302 and r["Location"].startswith(login_url))
        for r in refused
    ), [(r.status_code, r.get("Location"), r.content[:200]) for r in refused]
    assert RecoveryCodeSet.objects.filter(user=user).count() == 1
    assert RecoveryCode.objects.count() == 10
    assert TOTPDevice.objects.get(user=user).confirmed


def test_setups_begun_at_once_turn_on_one_authenticator_app(user, password, clock):
    """Sessions beginning a setup at the same moment each get a key of their own; turned
    on at the same moment too, one app is on and the other setups are gone."""
    clients = [Client() for _ in range(REQUESTS)]
    for client in clients:
        login(client, user, password)
    pages = race(REQUESTS, lambda i: begin_setup(clients[i]).content)
    secrets = [page_secret(page) for page in pages]
    assert len(set(secrets)) == REQUESTS
    race(REQUESTS, lambda i: clients[i].post(SETUP, {"code": clock.code(secrets[i])}))
    assert TOTPDevice.objects.get(user=user).confirmed


def test_a_recovery_code_sign_in_while_the_last_factor_goes_ends_without_a_deadlock(
        user, password, clock, monkeypatch):
    """The sign-in uses a code (its rows) and then writes the user's row (last_login); the
    removal takes the user's row and then deletes the codes. Held so that each has taken its
    first rows before the other goes on, the two must take turns, not wait on each other
    until PostgreSQL gives one of them up (an error, a 500)."""
    secret, codes = enroll(user)
    remover = Client()
    sign_in_fully(remover, user, password, clock, secret)
    signer = Client()
    assert login(signer, user, password)["Location"] == CHALLENGE
    meet = meeting()
    waited = threading.local()

    def held(module, name: str) -> None:
        real = getattr(module, name)

        def wait_after(*args, **kwargs):
            result = real(*args, **kwargs)
            if not getattr(waited, "done", False):  # once per request
                waited.done = True
                meet()
            return result

        monkeypatch.setattr(module, name, wait_after)

    held(devices, "throttled_check")  # the sign-in: the code is used, its rows locked
    # The removal: the user's row locked (and the sign-in's, for its recovery code, as
    # when one module held both).
    for module in (factors, verification):
        held(module, "lock_user_row")

    statuses = race(2, lambda i: (
        signer.post(CHALLENGE, {"code": codes[0]}).status_code if i == 0
        else api_delete(remover, "mfa/totp/").status_code))

    # Whichever takes the user's row first goes first: signed in with the code, or told
    # the code is wrong because the codes went with the last factor. Never an error.
    assert statuses[1] == 204
    assert statuses[0] in (200, 302)
    assert (AUTH_KEY in signer.session) == (statuses[0] == 302)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCodeSet.objects.filter(user=user).exists()


def test_a_staff_reset_waits_for_a_recovery_code_sign_in_under_way(user, password, staff,
                                                                   monkeypatch):
    """The sign-in holds the user's row and has used a code when the reset begins: the reset
    takes its turn after it, and counts the codes left unused then, not before."""
    from mfa import registry

    _, codes = enroll(user)
    signer = Client()
    assert login(signer, user, password)["Location"] == CHALLENGE
    used = threading.Event()
    meet = threading.Barrier(2)

    def wait() -> None:
        try:
            meet.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass  # the other request waits for this one to commit: nothing to meet

    real_check = devices.throttled_check

    def check_then_wait(*args, **kwargs):  # the sign-in: the user's row and a code taken
        result = real_check(*args, **kwargs)
        used.set()
        wait()
        return result

    real_removers = registry.removers

    def wait_then_remove():  # the reset: the factors counted, about to remove them
        wait()
        return real_removers()

    monkeypatch.setattr(devices, "throttled_check", check_then_wait)
    monkeypatch.setattr(registry, "removers", wait_then_remove)

    def reset():
        assert used.wait(timeout=10)
        return mfa_flows.mfa_reset(user, by=staff)

    results = race(2, lambda i: (
        signer.post(CHALLENGE, {"code": codes[0]}).status_code if i == 0 else reset()))

    assert results == [302, {"totp": 1, "recovery_codes": 9}]
    assert AUTH_KEY in signer.session
    assert not RecoveryCodeSet.objects.filter(user=user).exists()


def test_wrong_codes_at_once_from_sign_ins_of_their_own_still_alert(user, password, clock,
                                                                    settings, monkeypatch):
    """Guesses sent at the same moment, each from a sign-in of its own, all read the device
    before any of them records its failure: the device still counts them one by one, so
    the CHALLENGE_MAX_FAILURES-th wrong code in a row alerts the user, as it does one at a
    time. (Each request reported the count it read plus one, and none reached the limit.)"""
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0  # the back-off would refuse the later ones
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = REQUESTS
    secret, _ = enroll(user)
    clients = [Client() for _ in range(REQUESTS)]
    for client in clients:
        assert api_post(client, "login/", {"email": user.email, "password": password}
                        ).json()["stage"] == "mfa"
    mail.outbox.clear()
    read = threading.Barrier(REQUESTS)
    real_device = devices.totp_device

    def device_read_by_all(some_user):
        device = real_device(some_user)
        try:
            read.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return device

    monkeypatch.setattr(devices, "totp_device", device_read_by_all)
    valid = {clock.code(secret, steps) for steps in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "000001", "000002", "000003") if c not in valid)

    bodies = race(REQUESTS, lambda i: api_post(clients[i], "mfa/challenge/", {"code": wrong}).json())

    assert sorted(b["error"]["code"] for b in bodies) == (
        ["mfa_code_invalid"] * (REQUESTS - 1) + ["mfa_locked"])
    assert Event.objects.filter(action="mfa.challenge.failed").count() == REQUESTS
    assert Event.objects.filter(action="mfa.challenge.locked").count() == 1
    assert subjects(user.email) == ["authsuite demo: Repeated wrong two-step codes"]
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == REQUESTS
