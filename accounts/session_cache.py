"""Cache sessions (Redis in production) that rotate keys without extra round trips.

``SESSION_ENGINE = "accounts.session_cache"``. Entries, keys and the cookie are those of
Django's cache engine (``django.contrib.sessions.backends.cache``), so switching to or from
it signs nobody out. Django's cache store asks the cache a lot: a key rotation checks that
the new key is free, adds it and deletes the old one, and every save of a changed session
reads the entry first (so that a session ended meanwhile is not brought back) and then
writes it: five round trips for a sign-in. This store:

- rotates a key in memory and writes once, at the save: ``add`` under the new key (which
  refuses a key already taken, so none is looked up first), then the old key is deleted;
- updates a session it has read with one conditional write (``SET ... XX`` on django-redis:
  only if the entry still exists), keeping "a session ended elsewhere stays ended" without
  the read before it; other caches keep Django's read-then-write. A rotation whose old
  entry was ended meanwhile starts the new key all the same, as Django's store does (a
  signed-in session is then ended by the session-tracking row, which the ending marked);
- skips a save that would write what this request has already written.

Writes go to the cache when the session middleware saves, after the view's transaction has
committed, as with Django's store: a cache has no rollback.
"""

from __future__ import annotations

from django.contrib.sessions.backends import cache as sessions_cache
from django.contrib.sessions.backends.base import CreateError, UpdateError

from accounts.session_store import MAX_KEY_ATTEMPTS, RotatesInMemory

try:
    from django_redis.cache import RedisCache
except ImportError:  # pragma: no cover - the "redis" extra; without it no cache is django-redis
    RedisCache = None


def _updates_conditionally(cache) -> bool:
    """Whether ``cache.set`` takes ``xx`` (django-redis): write only if the key exists."""
    return RedisCache is not None and isinstance(cache, RedisCache)


class SessionStore(RotatesInMemory, sessions_cache.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._conditional = _updates_conditionally(self._cache)

    def load(self):
        data = super().load()  # forgets the key when the cache has nothing under it
        if self.session_key is not None:
            self._stored_key = self.session_key
        return data

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        try:
            serialized = self.serializer().dumps(data)
        except (TypeError, ValueError):
            # The cache pickles what the session serializer cannot encode (a datetime, a
            # set), as Django's cache store allows: such data is always written.
            serialized = None
        if (not must_create and serialized is not None
                and (self.session_key, serialized) == self._written):
            return
        timeout = self.get_expiry_age()
        if must_create or self._stored_key != self.session_key:
            self._add(data, timeout, must_create=must_create)
        elif not self._update(data, timeout):
            raise UpdateError  # ended meanwhile (signed out elsewhere)
        self._stored_key = self.session_key
        self._written = (self.session_key, serialized) if serialized is not None else None

    def _add(self, data, timeout: int, *, must_create: bool) -> None:
        """Store ``data`` under a key nobody holds (drawing another if it is taken), then
        delete the key a rotation left behind."""
        for _attempt in range(MAX_KEY_ATTEMPTS):
            if self._cache.add(self.cache_key, data, timeout):
                break
            if must_create:
                raise CreateError
            self._session_key = self._new_key()
        else:
            raise UpdateError(f"no unused session key after {MAX_KEY_ATTEMPTS} attempts")
        if self._rotated_from is not None:
            self._cache.delete(self.cache_key_prefix + self._rotated_from)
            self._rotated_from = None

    def _update(self, data, timeout: int) -> bool:
        if self._conditional:
            return bool(self._cache.set(self.cache_key, data, timeout, xx=True))
        if self._cache.get(self.cache_key) is None:
            return False
        self._cache.set(self.cache_key, data, timeout)
        return True

    def delete(self, session_key=None):
        if session_key is None:
            keys = {self.session_key, self._rotated_from} - {None}
            self._stored_key = self._rotated_from = self._written = None
        else:
            keys = {session_key}
        for key in keys:
            self._cache.delete(self.cache_key_prefix + key)
