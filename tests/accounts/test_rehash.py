"""A password stored again under the configured hasher at sign-in (new Argon2 parameters,
accounts imported with PBKDF2) is the same password: no other session, sign-in in progress
or reauthentication ends for it. A changed password still ends them all."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest
from asgiref.sync import async_to_sync
from django.contrib import auth
from django.contrib.auth.hashers import identify_hasher, make_password
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts import credentials, pipeline
from accounts.models import PasswordRehash, UserSession
from accounts.tasks import expire_sessions
from tests.accounts.support import api_get, api_post, is_signed_in, signed_in_html

pytestmark = pytest.mark.django_db
ARGON2 = "accounts.hashers.Argon2idPasswordHasher"
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
NEW_PASSWORD = "an entirely different passphrase 7"


def argon2_first(settings, *, time_cost: int = 1, memory_cost: int = 1024) -> None:
    """Argon2id becomes the configured hasher (at parameters cheap enough for tests);
    the accounts' MD5 hashes still verify, and are stored again at their next check."""
    settings.PASSWORD_HASHERS = [ARGON2, MD5, PBKDF2]
    settings.AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST = memory_cost
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = time_cost


def stored(user) -> str:
    return type(user).objects.values_list("password", flat=True).get(pk=user.pk)


def signed_in(user, password) -> Client:
    client = Client()
    signed_in_html(client, user.email, password)
    return client


def test_a_rehash_at_sign_in_keeps_every_other_session(settings, user, password):
    phone = signed_in(user, password)
    old_key = phone.session.session_key
    argon2_first(settings)

    signed_in(user, password)

    assert identify_hasher(stored(user)).algorithm == "argon2"
    assert is_signed_in(phone)
    # Moved to a new key under the current hash, its tracked session with it.
    assert phone.session.session_key != old_key
    current = type(user).objects.get(pk=user.pk).get_session_auth_hash()
    assert phone.session[auth.HASH_SESSION_KEY] == current
    assert UserSession.objects.filter(user=user, ended_at=None).count() == 2
    listed = api_get(phone, "sessions/").json()
    assert len(listed) == 2 and sum(1 for s in listed if s["current"]) == 1


def test_new_argon2_parameters_keep_sessions_through_each_rehash(settings, user, password):
    clients = [signed_in(user, password)]
    for time_cost, memory_cost in ((1, 1024), (2, 1024), (2, 2048)):
        argon2_first(settings, time_cost=time_cost, memory_cost=memory_cost)
        clients.append(signed_in(user, password))

    assert "m=2048,t=2" in stored(user)
    assert PasswordRehash.objects.filter(user=user).count() == 3
    # All three steps lead to the password stored now.
    assert set(PasswordRehash.objects.values_list("current", flat=True)) == {
        credentials.credential(type(user).objects.get(pk=user.pk))}
    assert all(is_signed_in(client) for client in clients)


def test_pbkdf2_hashes_of_imported_accounts_keep_their_sessions(settings, user, password):
    settings.PASSWORD_HASHERS = [PBKDF2]
    type(user).objects.filter(pk=user.pk).update(password=make_password(password))
    laptop = signed_in(user, password)
    assert not PasswordRehash.objects.exists()
    argon2_first(settings)

    signed_in(user, password)

    assert identify_hasher(stored(user)).algorithm == "argon2"
    assert is_signed_in(laptop)


def test_an_unchanged_hash_records_nothing(user, password):
    signed_in(user, password)
    signed_in(user, password)
    assert not PasswordRehash.objects.exists()


@pytest.mark.parametrize("change", ["page", "set_password"])
def test_a_changed_password_still_ends_sessions_from_before_the_rehash(settings, user, password,
                                                                       change):
    before = signed_in(user, password)
    argon2_first(settings)
    after = signed_in(user, password)  # stored again
    if change == "page":
        response = after.post("/accounts/password/change/", {
            "current_password": password, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD})
        assert response.status_code == 302, response.content[:400]
    else:  # the admin, changepassword, a data migration: no flow, no signal
        fresh = type(user).objects.get(pk=user.pk)
        fresh.set_password(NEW_PASSWORD)
        fresh.save()

    assert not is_signed_in(before)
    assert is_signed_in(after) is (change == "page")


def test_a_sign_in_in_progress_survives_a_rehash_elsewhere(settings, user, password):
    # What a sign-in waiting for its second factor holds.
    waiting = pipeline.LoginState(user_id=user.pk, method="password", amr=["pwd"],
                                  credential=credentials.credential(user))
    argon2_first(settings)

    signed_in(user, password)

    assert waiting.user() is not None
    for forged in ("forged", ""):
        assert pipeline.LoginState(user_id=user.pk, method="password", amr=["pwd"],
                                   credential=forged).user() is None


def test_reauthentication_stores_the_hash_again_and_ends_no_session(settings, user, password):
    client, other = signed_in(user, password), signed_in(user, password)
    argon2_first(settings)

    response = api_post(client, "reauthenticate/", {"password": password})

    assert response.status_code == 200, response.content
    assert identify_hasher(stored(user)).algorithm == "argon2"
    assert is_signed_in(client) and is_signed_in(other)


def test_a_rehash_never_overwrites_a_password_changed_meanwhile(settings, user, password):
    argon2_first(settings)
    checked = type(user).objects.get(pk=user.pk)  # read just before the change
    fresh = type(user).objects.get(pk=user.pk)
    fresh.set_password(NEW_PASSWORD)
    fresh.save()

    assert credentials.password_matches(checked, password)

    # Django's own check would have stored the old password again, under Argon2id.
    assert stored(user) == fresh.password
    assert not PasswordRehash.objects.exists()
    # And what the late check binds to does not stand for the new password.
    assert not credentials.matches(fresh, credentials.credential(checked))


def test_two_checks_rehashing_at_once_store_one_hash(settings, user, password):
    argon2_first(settings)
    one = type(user).objects.get(pk=user.pk)
    two = type(user).objects.get(pk=user.pk)

    assert credentials.password_matches(one, password)
    assert credentials.password_matches(two, password)

    assert stored(user) == one.password
    assert identify_hasher(two.password).algorithm == "md5"  # kept the hash it checked
    # What either binds to stands for the stored password.
    now = type(user).objects.get(pk=user.pk)
    assert credentials.matches(now, credentials.credential(one))
    assert credentials.matches(now, credentials.credential(two))
    assert PasswordRehash.objects.filter(user=user).count() == 1


def test_the_async_session_check_accepts_the_older_hash(settings, user, password):
    phone = signed_in(user, password)
    argon2_first(settings)
    signed_in(user, password)
    request = RequestFactory().get("/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(
        phone.session.session_key)

    found = async_to_sync(auth.aget_user)(request)

    assert found.is_authenticated and found.pk == user.pk


def test_steps_are_kept_as_long_as_anything_bound_to_them_lives(settings, user, password):
    settings.AUTHSUITE_ACCOUNTS_REMEMBER_ABSOLUTE_TIMEOUT = 30 * 86400
    settings.AUTHSUITE_MFA_TRUST_BROWSER_DAYS = 45  # the longest
    argon2_first(settings)
    signed_in(user, password)
    step = PasswordRehash.objects.get(user=user)

    for age, kept in ((44, True), (46, False)):
        PasswordRehash.objects.filter(pk=step.pk).update(
            created_at=timezone.now() - timedelta(days=age))
        expire_sessions()
        assert PasswordRehash.objects.filter(pk=step.pk).exists() is kept


def test_a_step_holds_no_password_hash(settings, user, password):
    md5 = stored(user)
    argon2_first(settings)
    signed_in(user, password)

    step = PasswordRehash.objects.get(user=user)
    assert {md5, stored(user)}.isdisjoint({step.previous, step.current})
    assert step.previous == credentials.credential(user, md5)
