"""The cache session store (``accounts.session_cache``): a key rotation is one ``add`` and
one ``delete`` at the save, an update of a session that still exists is one conditional
write on Redis, a session ended elsewhere is not brought back, a repeated save costs
nothing, and entries are those of Django's cache engine.

The end-to-end sign-in, MFA and step-up tests of every engine, this one included, are in
test_session_store.py. On the PostgreSQL + Redis run the cache is django-redis, so these
tests exercise ``SET ... XX`` there and Django's read-then-write on the local-memory cache.
"""

from __future__ import annotations

from functools import partial

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends import cache as django_cache_store
from django.contrib.sessions.backends.base import CreateError, UpdateError

from accounts import session_cache
from accounts.session_cache import SessionStore
from accounts.session_store import KEY_LENGTH
from tests.accounts.support import loaded_session_from, stored_session_in

pytestmark = pytest.mark.django_db


class Recorder:
    """The session cache, with a list of the calls made to it."""

    def __init__(self, cache):
        self.cache, self.calls = cache, []

    def __getattr__(self, name):
        method = getattr(self.cache, name)

        def call(*args, **kwargs):
            self.calls.append(name + ("(xx)" if kwargs.get("xx") else ""))
            return method(*args, **kwargs)

        return call


def recorded(store: SessionStore) -> Recorder:
    store._cache = Recorder(store._cache)
    return store._cache


stored = partial(stored_session_in, SessionStore)
loaded = partial(loaded_session_from, SessionStore)


@pytest.fixture(autouse=True)
def empty_cache():
    SessionStore()._cache.clear()


def update_calls() -> list[str]:
    return ["set(xx)"] if session_cache._updates_conditionally(SessionStore()._cache) else [
        "get", "set"]


def test_a_rotation_is_one_add_and_one_delete_at_the_save():
    old = stored(a=1)
    session = loaded(old)
    calls = recorded(session)

    session.cycle_key()
    session["b"] = 2
    assert calls.calls == []  # nothing asked of the cache until the save
    session.save()

    assert calls.calls == ["add", "delete"]
    assert session.session_key != old and len(session.session_key) == KEY_LENGTH
    assert not SessionStore().exists(old)
    assert dict(loaded(session.session_key).items()) == {"a": 1, "b": 2}


def test_two_rotations_before_a_save_delete_the_original_entry():
    old = stored(a=1)
    session = loaded(old)
    session.cycle_key()
    first = session.session_key
    session.cycle_key()
    session.save()

    assert not SessionStore().exists(old)
    assert not SessionStore().exists(first)
    assert dict(loaded(session.session_key).items()) == {"a": 1}


def test_a_rotation_of_a_session_never_stored_adds_only():
    session = SessionStore()
    calls = recorded(session)
    session["a"] = 1
    session.cycle_key()
    session.save()

    assert calls.calls == ["add"]
    assert dict(loaded(session.session_key).items()) == {"a": 1}


def test_an_update_of_a_stored_session_is_one_conditional_write():
    key = stored(a=1)
    session = loaded(key)
    calls = recorded(session)
    session["a"] = 2
    session.save()

    assert calls.calls == update_calls()
    assert dict(loaded(key).items()) == {"a": 2}


def test_a_session_ended_elsewhere_is_not_brought_back():
    key = stored(a=1)
    session = loaded(key)
    SessionStore().delete(key)  # signed out in another tab, or by "end all sessions"
    session["a"] = 2

    with pytest.raises(UpdateError):
        session.save()
    assert not SessionStore().exists(key)


def test_a_repeated_save_asks_nothing():
    session = SessionStore()
    session["a"] = 1
    session.save()
    calls = recorded(session)

    session.save()
    session.modified = True
    session.save()

    assert calls.calls == []


def test_a_taken_key_is_drawn_again_and_its_owner_keeps_it(monkeypatch):
    someone_else = stored(z=9)
    mine = stored(a=1)
    keys = iter([someone_else, "n" * KEY_LENGTH])
    session = loaded(mine)
    monkeypatch.setattr(SessionStore, "_new_key", lambda self: next(keys))
    session.cycle_key()
    session.save()

    assert session.session_key == "n" * KEY_LENGTH
    assert dict(loaded(someone_else).items()) == {"z": 9}  # never overwritten
    assert dict(loaded(session.session_key).items()) == {"a": 1}
    assert not SessionStore().exists(mine)


def test_create_gives_up_on_a_broken_random_source(monkeypatch):
    taken = stored(a=1)
    monkeypatch.setattr(SessionStore, "_new_key", lambda self: taken)
    with pytest.raises(CreateError):
        SessionStore().create()


def test_flush_after_a_pending_rotation_deletes_the_original_entry():
    old = stored(a=1)
    session = loaded(old)
    session.cycle_key()
    session.flush()

    assert not SessionStore().exists(old)
    assert session.session_key is None


def test_entries_are_djangos_own_both_ways():
    ours = stored(a=1)
    assert dict(django_cache_store.SessionStore(ours).items()) == {"a": 1}

    theirs = django_cache_store.SessionStore()
    theirs["b"] = 2
    theirs.save()
    session = loaded(theirs.session_key)
    session.cycle_key()
    session.save()
    assert not django_cache_store.SessionStore().exists(theirs.session_key)
    assert dict(django_cache_store.SessionStore(session.session_key).items()) == {"b": 2}


def test_the_async_api_runs_the_same_code():
    old = stored(a=1)
    session = SessionStore(old)
    async_to_sync(session.aload)()
    async_to_sync(session.acycle_key)()
    async_to_sync(session.asave)()

    assert not SessionStore().exists(old)
    assert dict(loaded(session.session_key).items()) == {"a": 1}
    async_to_sync(session.adelete)()
    assert not SessionStore().exists(session.session_key or "x")


def test_an_unknown_key_from_a_cookie_gets_a_new_key():
    session = SessionStore("stale" + "x" * 27)
    session["a"] = 1
    session.save()

    assert session.session_key != "stale" + "x" * 27
    assert dict(loaded(session.session_key).items()) == {"a": 1}


def test_data_the_session_serializer_cannot_encode_is_kept_as_djangos_cache_store_keeps_it():
    import datetime

    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    session = SessionStore()
    session["when"] = when
    session.save()
    session["when"] = when + datetime.timedelta(days=1)
    session.save()

    assert loaded(session.session_key)["when"] == when + datetime.timedelta(days=1)
    assert django_cache_store.SessionStore(session.session_key)["when"] == (
        when + datetime.timedelta(days=1))
