"""The write-once session store (``accounts.session_store``): a key rotation moves the row
with one UPDATE at the next save, a repeated save costs nothing, a row ended elsewhere is
not brought back, keys are uniform over Django's characters, rows are Django's own; and
sign-in resists session fixation on this store and on Django's stock engines."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import partial
from importlib import import_module

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.sessions.backends import db as django_db_store
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone

from accounts import session_store
from accounts.session_store import KEY_LENGTH, SessionStore, new_session_key
from tests.accounts.support import (
    AUTH_KEY,
    RECORD_KEY,
    cookie_session_key,
    is_signed_in,
    loaded_session_from,
    plant_session,
    signed_in_html,
    stored_session_in,
)
from tests.mfa.support import Clock, enroll, sign_in_fully

pytestmark = pytest.mark.django_db

ENGINES = [
    "accounts.session_store",
    "accounts.session_cache",
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cache",
]


stored_session = partial(stored_session_in, SessionStore)
loaded = partial(loaded_session_from, SessionStore)


def row_data(key: str) -> dict:
    return Session.objects.get(session_key=key).get_decoded()


def statements(captured) -> list[str]:
    return [query["sql"].split()[0].upper() for query in captured.captured_queries]


# --- key rotation ---------------------------------------------------------------------------

def test_a_rotation_moves_the_row_with_one_update():
    old = stored_session(a=1)
    session = loaded(old)
    session["b"] = 2
    session.cycle_key()

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE"]
    assert session.session_key != old
    assert not Session.objects.filter(session_key=old).exists()
    assert row_data(session.session_key) == {"a": 1, "b": 2}
    assert Session.objects.count() == 1


def test_two_rotations_before_a_save_still_move_the_original_row():
    old = stored_session(a=1)
    session = loaded(old)
    session.cycle_key()
    between = session.session_key
    session.cycle_key()

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE"]
    assert session.session_key not in (old, between)
    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert row_data(session.session_key) == {"a": 1}


def test_a_rotation_of_a_session_saved_by_the_same_store_is_written():
    session = SessionStore()
    session["a"] = 1
    session.save()
    first = session.session_key
    session.cycle_key()  # same data, new key: not a repeat of the last write

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE"]
    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert session.session_key != first


@pytest.mark.parametrize("cookie", [None, "stale" + "x" * 27], ids=["no-key", "unknown-key"])
def test_a_rotation_of_a_session_without_a_row_inserts(cookie):
    session = SessionStore(cookie)
    session["a"] = 1
    session.cycle_key()

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["INSERT"]
    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert row_data(session.session_key) == {"a": 1}


def test_a_rotation_whose_row_was_deleted_meanwhile_inserts_a_new_row():
    old = stored_session(a=1)
    session = loaded(old)
    session.cycle_key()
    Session.objects.filter(session_key=old).delete()

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE", "INSERT"]
    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert row_data(session.session_key) == {"a": 1}


# --- saves that repeat the last write -------------------------------------------------------

def test_a_save_of_unchanged_data_issues_no_statement():
    session = SessionStore()
    session["a"] = 1
    session.save()

    with CaptureQueriesContext(connection) as captured:
        session.save()
        session["a"] = 1  # the same value again: modified, but nothing new to write
        session.save()

    assert captured.captured_queries == []
    assert row_data(session.session_key) == {"a": 1}


def test_a_changed_value_is_written():
    session = SessionStore()
    session["a"] = 1
    session.save()
    session["a"] = 2

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE"]
    assert row_data(session.session_key) == {"a": 2}


def test_a_changed_expiry_is_written():
    session = SessionStore()
    session["a"] = 1
    session.save()
    session.set_expiry(60)

    with CaptureQueriesContext(connection) as captured:
        session.save()

    assert statements(captured) == ["UPDATE"]
    expires = Session.objects.get(session_key=session.session_key).expire_date
    assert abs(expires - (timezone.now() + timedelta(seconds=60))) < timedelta(seconds=10)


# --- a row ended elsewhere ------------------------------------------------------------------

def test_saving_a_session_whose_row_was_deleted_raises_update_error():
    key = stored_session(a=1)
    session = loaded(key)
    session["b"] = 2
    Session.objects.filter(session_key=key).delete()  # signed out from another browser

    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.exists()


def end_elsewhere(request):
    request.session["seen"] = True
    Session.objects.filter(session_key=request.session.session_key).delete()
    return HttpResponse("ok")


urlpatterns = [path("ended-elsewhere/", end_elsewhere)]


@pytest.mark.urls(__name__)
def test_the_middleware_answers_a_session_ended_during_the_request_with_400(client):
    plant_session(client)
    assert client.get("/ended-elsewhere/").status_code == 400
    assert not Session.objects.exists()


def test_flush_after_a_pending_rotation_deletes_the_original_row():
    old = stored_session(a=1)
    other = stored_session(b=2)
    session = loaded(old)
    session.cycle_key()

    session.flush()

    assert session.session_key is None
    assert list(Session.objects.values_list("session_key", flat=True)) == [other]


@pytest.mark.django_db(transaction=True)
def test_a_write_in_a_transaction_that_commits_is_not_repeated():
    session = loaded(stored_session(a=1))
    with transaction.atomic():
        session.cycle_key()
        session["b"] = 2
        session.save()

    with CaptureQueriesContext(connection) as captured:
        session.save()  # the middleware, after the flow's transaction

    assert statements(captured) == []
    assert row_data(session.session_key) == {"a": 1, "b": 2}


@pytest.mark.django_db(transaction=True)
def test_a_write_in_a_transaction_rolled_back_is_made_again():
    old = stored_session(a=1)
    session = loaded(old)
    with pytest.raises(RuntimeError), transaction.atomic():
        session.cycle_key()
        session["b"] = 2
        session.save()
        raise RuntimeError("a later write of the flow failed")

    session.save()  # the middleware: the row must reach the new key after all

    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert session.session_key != old
    assert row_data(session.session_key) == {"a": 1, "b": 2}


def test_the_async_api_keeps_track_of_the_row():
    key = stored_session(a=1)
    session = SessionStore(key)
    async_to_sync(session.aset)("b", 2)  # loads the row through the async API

    session.save()

    assert list(Session.objects.values_list("session_key", flat=True)) == [key]
    assert row_data(key) == {"a": 1, "b": 2}


def test_an_async_rotation_moves_the_row():
    old = stored_session(a=1)
    session = SessionStore(old)
    async_to_sync(session.acycle_key)()
    async_to_sync(session.asave)()

    assert list(Session.objects.values_list("session_key", flat=True)) == [session.session_key]
    assert session.session_key != old


# --- keys -----------------------------------------------------------------------------------

def test_create_writes_a_row_under_a_new_key():
    session = SessionStore()
    session.create()
    assert len(session.session_key) == KEY_LENGTH
    assert set(session.session_key) <= set(VALID_KEY_CHARS)
    assert Session.objects.filter(session_key=session.session_key).exists()


def test_create_draws_again_when_the_key_is_taken(monkeypatch):
    taken = stored_session(a=1)
    draws = iter([taken, "b" * KEY_LENGTH])
    monkeypatch.setattr(session_store, "new_session_key", lambda: next(draws))

    session = SessionStore()
    session.create()

    assert session.session_key == "b" * KEY_LENGTH
    assert row_data(taken) == {"a": 1}
    assert Session.objects.count() == 2


def test_create_gives_up_on_a_broken_random_source(monkeypatch):
    taken = stored_session(a=1)
    monkeypatch.setattr(session_store, "new_session_key", lambda: taken)
    with pytest.raises(CreateError):
        SessionStore().create()
    assert row_data(taken) == {"a": 1}


def test_new_keys_drop_the_bytes_that_would_bias_them(monkeypatch):
    batches = iter([bytes(range(252, 256)) * 12, bytes([251, *range(47)])])
    monkeypatch.setattr(session_store.secrets, "token_bytes", lambda n: next(batches))
    # 252..255 are all dropped; 251 % 36 is the last character.
    assert new_session_key() == VALID_KEY_CHARS[-1] + VALID_KEY_CHARS[:31]


def test_new_keys_are_uniform_over_the_valid_characters():
    keys = [new_session_key() for _ in range(20_000)]

    assert {len(key) for key in keys} == {KEY_LENGTH}
    assert len(set(keys)) == len(keys)
    counts = Counter("".join(keys))
    assert set(counts) == set(VALID_KEY_CHARS)
    expected = len(keys) * KEY_LENGTH / len(VALID_KEY_CHARS)  # ~17,778, sigma ~131
    # A skew of 5% is about 7 sigma; ``b % 36`` over all 256 byte values would give four
    # characters 12.5% more.
    assert all(abs(n - expected) < 0.05 * expected for n in counts.values()), counts
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 120  # 35 degrees of freedom: mean 35, and 120 has a p-value far below 1e-9


# --- keys from the cookie --------------------------------------------------------------------

# A cookie is the client's to write: a quoted value unquotes "\\000" to a NUL, which
# PostgreSQL refuses in a query (and Memcached in a cache key), whatever else it holds.
FOREIGN_KEYS = ["abcdefgh\x00ijklmnop", "\x00" * 32, "abcdefghij\x01klmnop", "\u00e9" * 32,
                "ABCDEFGHIJKLMNOP", "abcdefgh-ijklmnop", "a" * 41]


@pytest.mark.parametrize("engine", ["accounts.session_store", "accounts.session_cache"])
@pytest.mark.parametrize("key", FOREIGN_KEYS)
def test_a_key_no_store_makes_is_no_key(engine, key):
    store = import_module(engine).SessionStore(key)
    assert store.session_key is None
    assert dict(store.items()) == {}


@pytest.mark.parametrize("engine", ["accounts.session_store", "accounts.session_cache"])
def test_keys_django_makes_are_still_keys(engine):
    for key in [new_session_key(), "abcdefgh", "a1" * 20]:
        assert import_module(engine).SessionStore(key).session_key == key


@pytest.mark.parametrize("engine", ["accounts.session_store", "accounts.session_cache"])
@pytest.mark.parametrize("path", ["/api/auth/v1/session/", "/accounts/login/"])
def test_a_session_cookie_quoting_a_nul_is_no_session(settings, client, engine, path):
    settings.SESSION_ENGINE = engine
    cookie = f'{settings.SESSION_COOKIE_NAME}="abcdefgh\\000ijklmnopqrstuvwxyz012345"'
    response = client.get(path, HTTP_COOKIE=cookie)
    assert response.status_code == 200
    if path.startswith("/api/"):
        assert response.json()["authenticated"] is False


# --- compatibility with Django's database store ---------------------------------------------

def test_a_session_saved_by_djangos_store_is_loaded_and_rotated_by_ours():
    theirs = django_db_store.SessionStore()
    theirs["a"] = 1
    theirs.save()

    ours = loaded(theirs.session_key)
    assert ours["a"] == 1
    ours["b"] = 2
    ours.cycle_key()
    ours.save()

    again = django_db_store.SessionStore(ours.session_key)
    assert dict(again.items()) == {"a": 1, "b": 2}
    assert not django_db_store.SessionStore().exists(theirs.session_key)


def test_a_session_saved_by_our_store_is_loaded_by_djangos():
    key = stored_session(a=1, when="now")
    theirs = django_db_store.SessionStore(key)
    assert dict(theirs.items()) == {"a": 1, "when": "now"}
    theirs["b"] = 2
    theirs.save()
    assert dict(loaded(key).items()) == {"a": 1, "when": "now", "b": 2}


# --- end to end, on this store and on Django's stock engines --------------------------------

@pytest.fixture(params=ENGINES)
def engine(request, settings):
    settings.SESSION_ENGINE = request.param
    return import_module(request.param)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def alive(engine, key: str) -> bool:
    return engine.SessionStore().exists(key)


def assert_only_session(engine, key: str) -> None:
    """``key`` is the browser's one session: the table's only row for the database engines."""
    assert alive(engine, key)
    rows = list(Session.objects.values_list("session_key", flat=True))
    assert rows == ([] if engine.__name__.endswith((".cache", ".session_cache")) else [key])


def test_password_sign_in_leaves_the_planted_key_dead(engine, client, user, password):
    planted = plant_session(client)

    signed_in_html(client, user.email, password)

    key = cookie_session_key(client)
    assert key != planted
    assert not alive(engine, planted)
    assert engine.SessionStore(key)[AUTH_KEY] == str(user.pk)
    assert_only_session(engine, key)
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert not is_signed_in(attacker)
    assert is_signed_in(client)


def test_sign_in_with_a_code_rotates_at_each_step(engine, client, user, password, clock):
    secret, _codes = enroll(user)
    planted = plant_session(client)

    sign_in_fully(client, user, password, clock, secret)

    key = cookie_session_key(client)
    assert not alive(engine, planted)
    assert client.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert_only_session(engine, key)
    assert is_signed_in(client)


def test_a_step_up_rotates_the_key_of_a_signed_in_session(engine, client, user, password,
                                                          clock):
    signed_in_html(client, user.email, password)
    before = cookie_session_key(client)
    secret, _codes = enroll(user)  # set up after this session signed in with a password
    clock.step()

    response = client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})

    assert response.status_code == 302, response.content[:400]
    key = cookie_session_key(client)
    assert key != before
    assert not alive(engine, before)
    assert client.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert_only_session(engine, key)
    assert is_signed_in(client)
