"""Races on PostgreSQL: changes to an account's factors made at the same moment, whose rules
depend on the other factors (two-step verification turns off with the last second factor; a
passwordless account keeps one passkey), take turns on the user's row.

Each thread is a browser of its own (its own client, so its own database connection); a
barrier releases them together. A second barrier holds each request after it has looked at
the other factors and before it commits, so that both look before either commits, as they
would if nothing made them take turns; a request that is made to wait for the other never
reaches it, and the barrier gives up after ``LINGER`` seconds. Real transactions: a race
needs commits to race with.
"""

from __future__ import annotations

import json
import threading

import pytest

from audit.models import Event
from mfa import flows as mfa_flows
from mfa import recovery
from mfa.flows import authenticator
from mfa.models import RecoveryCodeSet, TOTPDevice
from passkeys.flows import management
from passkeys.models import Passkey
from tests.helpers import meeting, race
from tests.mfa.support import api_delete, api_post, enroll
from tests.passkeys.support import add_passkey, password_client
from tests.passkeys.test_manage import passkey_only

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LINGER = 2


def held_after(monkeypatch, module, name: str, *, before: bool = False):
    """Make ``module.name`` wait at a barrier of two, after it ran (or ``before``)."""
    real = getattr(module, name)
    wait = meeting(LINGER)

    def held(*args, **kwargs):
        if before:
            wait()
        result = real(*args, **kwargs)
        if not before:
            wait()
        return result

    monkeypatch.setattr(module, name, held)


def mfa_disabled(user) -> int:
    return Event.objects.filter(action="mfa.disabled", actor_id=str(user.pk)).count()


def test_the_app_and_the_last_passkey_removed_at_once_turn_two_step_verification_off(
        user, password, monkeypatch):
    client = password_client(user, password)
    passkey = add_passkey(client)  # proves the passkey in this session: both factors
    enroll(user)
    # Where the app's removal looks it up, and a passkey's (mfa.receivers, from mfa.flows).
    held_after(monkeypatch, authenticator, "factor_removed")
    held_after(monkeypatch, mfa_flows, "factor_removed")

    statuses = race(2, lambda i: (
        api_delete(client, "mfa/totp/") if i == 0
        else client.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")).status_code)

    assert statuses == [204, 204]
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not Passkey.objects.filter(user=user).exists()
    # No second factor left: the recovery codes went with the last one, and it was said once.
    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    assert mfa_disabled(user) == 1


def test_the_two_passkeys_of_a_passwordless_account_removed_at_once_leave_one(
        user, password, monkeypatch):
    client, keys = passkey_only(user, password_client(user, password))
    held_after(monkeypatch, management, "can_sign_in_without")

    responses = race(2, lambda i: client.delete(f"/api/auth/v1/passkeys/{keys[i].pk}/"))

    assert sorted(r.status_code for r in responses) == [204, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json()["error"]["code"] == "passkey_last_credential"
    assert Passkey.objects.filter(user=user).count() == 1


def test_new_recovery_codes_and_removing_the_last_factor_at_once_leave_no_codes(
        user, password, monkeypatch):
    client = password_client(user, password)
    passkey = add_passkey(client)
    held_after(monkeypatch, mfa_flows, "factor_removed")
    held_after(monkeypatch, recovery, "generate", before=True)

    statuses = race(2, lambda i: (
        api_post(client, "mfa/recovery-codes/") if i == 0
        else client.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")).status_code)

    assert statuses[1] == 204
    assert statuses[0] in (200, 400)  # codes made before the removal, or refused after it
    assert not Passkey.objects.filter(user=user).exists()
    # Codes back up a second factor: none outlives the last one.
    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    assert mfa_disabled(user) == 1


def test_the_app_removed_twice_at_once_is_removed_once(user, password, monkeypatch):
    client = password_client(user, password)
    add_passkey(client)
    enroll(user)

    statuses = race(2, lambda i: api_delete(client, "mfa/totp/").status_code)

    assert sorted(statuses) == [204, 400]
    assert Event.objects.filter(action="mfa.totp.removed", actor_id=str(user.pk)).count() == 1
    assert not TOTPDevice.objects.filter(user=user).exists()



def test_a_staff_reset_while_the_user_removes_their_last_passkey_ends_without_a_deadlock(
        user, password, staff, monkeypatch):
    """The user's removal locks the passkey, then the user's row, then deletes the recovery
    codes (the last factor gone). The reset begins once the removal holds its two rows, and
    the removal goes on only when the reset has got as far as removing the passkeys (or has
    been made to wait for the removal): the two must take turns, not wait on each other
    until PostgreSQL gives one of them up (an error, a 500), and what the reset says it
    removed is what it removed."""
    from mfa import registry

    client = password_client(user, password)
    passkey = add_passkey(client)
    assert api_post(client, "mfa/recovery-codes/").status_code == 200
    locked = threading.Event()
    wait = meeting(LINGER)

    real_lock = management.lock_user_row

    def lock_then_wait(owner):  # the removal: the passkey's row and the user's row held
        real_lock(owner)
        locked.set()
        wait()

    real_remove = registry.removers()["passkey"]

    def wait_then_remove(owner, **kwargs):  # the reset, about to remove the passkeys
        wait()
        return real_remove(owner, **kwargs)

    monkeypatch.setattr(management, "lock_user_row", lock_then_wait)
    monkeypatch.setitem(registry._removers, "passkey", wait_then_remove)

    def reset():
        assert locked.wait(timeout=10)
        return mfa_flows.mfa_reset(user, by=staff)

    results = race(2, lambda i: (
        client.delete(f"/api/auth/v1/passkeys/{passkey.pk}/").status_code if i == 0
        else reset()))

    assert results[0] == 204
    assert not Passkey.objects.filter(user=user).exists()
    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    # The removal went first: the reset found nothing left to remove, and says so.
    assert results[1] == {}
    assert json.loads(Event.objects.get(action="mfa.reset").data) == {"removed": {}}
    assert Event.objects.filter(action="passkeys.removed").count() == 1
