"""Database sessions that cost one statement per request that changes them.

``SESSION_ENGINE = "accounts.session_store"``. The rows, the table and the cookie are
Django's own (``django.contrib.sessions``), so switching to or from this engine signs nobody
out. What differs is how often it writes. Django's database store, on a sign-in or any
other key rotation, looks the new key up, inserts a row under it, reads and deletes the old
row, then updates the new one with the final data: five statements and two transactions.
This store:

- rotates a key in memory, and moves the row to the new key when the session is saved: one
  ``UPDATE ... SET session_key = <new>`` (an INSERT when there was no row to move);
- does not look a new key up before using it: 32 characters drawn from 36 are 165 random
  bits, and the primary key refuses the impossible duplicate, which is then retried;
- skips a save that would write what this request has already written, so a flow can save
  inside its own transaction (:func:`accounts.sessions.session_write`) and the
  middleware's save after it costs nothing.
"""

from __future__ import annotations

import secrets

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import db as sessions_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, connections, router, transaction

from authsuite import db

KEY_LENGTH = 32
# The longest key a row can hold (django.contrib.sessions' session_key column).
MAX_KEY_LENGTH = 40
_KEY_CHARS = frozenset(VALID_KEY_CHARS)
# A new key equals one of N stored keys with a chance of N / 2**165; the few retries only
# guard against a broken random source looping forever.
MAX_KEY_ATTEMPTS = 5


def new_session_key() -> str:
    """32 characters drawn uniformly from Django's 36 session-key characters.

    As ``get_random_string(32, VALID_KEY_CHARS)``, with one call to the CSPRNG instead of
    one per character: bytes of 252 or more are dropped, so ``b % 36`` has no bias.
    """
    chars = VALID_KEY_CHARS
    limit = 256 - 256 % len(chars)
    key = ""
    while len(key) < KEY_LENGTH:
        key += "".join(chars[b % len(chars)] for b in secrets.token_bytes(48) if b < limit)
    return key[:KEY_LENGTH]


class RotatesInMemory:
    """What this store and ``accounts.session_cache`` share, on top of a Django store.

    A key rotation happens in memory and is written by the next save, which moves the data
    away from ``_rotated_from``; a new key is not looked up but written with a statement
    that refuses a taken one; ``_written`` lets a save skip what this request already
    wrote. The async API runs the same code, so that what the store knows about its data
    stays true whichever API wrote it.
    """

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # The key this session's data is stored under, once read or written.
        self._stored_key = None
        # The stored key a rotation will move the data away from at the next save.
        self._rotated_from = None
        # (key, serialized data) as last written by this store, to skip a repeated save.
        self._written = None

    def _new_key(self) -> str:
        return new_session_key()

    def _validate_session_key(self, key):
        # Only a key a store could have made: Django's characters, at most a row's length.
        # The cookie is the client's to write, and a quoted one unquotes "\\000" to a NUL,
        # which PostgreSQL refuses in a query (a 500 on every page and API request) and
        # Memcached in a cache key. Anything else is no key: a new session, as for a short one.
        return (isinstance(key, str) and 8 <= len(key) <= MAX_KEY_LENGTH
                and _KEY_CHARS.issuperset(key))

    def cycle_key(self):
        data = self._session  # loads the data, or forgets a key that has none
        if self._rotated_from is None:
            self._rotated_from = self._stored_key
        self._stored_key = None
        self._session_key = self._new_key()
        self._session_cache = data
        self.modified = True

    def create(self):
        for _attempt in range(MAX_KEY_ATTEMPTS):
            self._session_key = self._new_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise CreateError(f"no unused session key after {MAX_KEY_ATTEMPTS} attempts")

    async def aload(self):
        return await sync_to_async(self.load)()

    async def acycle_key(self):
        await sync_to_async(self.cycle_key)()

    async def acreate(self):
        await sync_to_async(self.create)()

    async def asave(self, must_create=False):
        await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        await sync_to_async(self.delete)(session_key)


class SessionStore(RotatesInMemory, sessions_db.SessionStore):
    #: Tells flows that a save inside their transaction is not repeated by the middleware.
    writes_once = True

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # (stored key, rotated from) before a write made inside a transaction that has not
        # committed yet: if it never does, the row is still where they say.
        self._uncommitted = None

    def load(self):
        row = self._get_session_from_db()
        if row is None:
            return {}
        self._stored_key = row.session_key
        return self.decode(row.session_data)

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        using = router.db_for_write(self.model)
        if self._uncommitted is not None and not connections[using].in_atomic_block:
            # Written in a transaction that was rolled back (its on_commit never ran): the
            # row is where it was before that write, which must be made again.
            (self._stored_key, self._rotated_from), self._uncommitted = self._uncommitted, None
            self._written = None
        data = self._get_session(no_load=must_create)
        serialized = self.serializer().dumps(data)
        if not must_create and (self.session_key, serialized) == self._written:
            return
        values = {"session_data": self.encode(data), "expire_date": self.get_expiry_date()}
        for _attempt in range(MAX_KEY_ATTEMPTS):
            try:
                if must_create:
                    # As Django's store: a savepoint, so a duplicate key does not spoil the
                    # caller's transaction and create() can draw another.
                    with transaction.atomic(using=using):
                        self._insert(using, values)
                else:
                    # One statement (two when a rotation finds no row to move): no savepoint,
                    # which would cost two more.
                    self._write(using, values)
            except IntegrityError:
                if must_create:
                    raise CreateError from None
                if connections[using].in_atomic_block:
                    raise  # the caller's transaction is spoilt: nothing to retry in
                # The new key is taken (rotation, or a first write): draw another.
                self._session_key = self._new_key()
                continue
            except DatabaseError as exc:
                if not must_create:
                    raise UpdateError from exc
                raise
            if connections[using].in_atomic_block and self._uncommitted is None:
                self._uncommitted = (self._stored_key, self._rotated_from)
                transaction.on_commit(self._committed, using=using)
            self._stored_key, self._rotated_from = self.session_key, None
            self._written = (self.session_key, serialized)
            return
        raise UpdateError(f"no unused session key after {MAX_KEY_ATTEMPTS} attempts")

    def _write(self, using: str, values: dict) -> None:
        key = self.session_key
        if self._rotated_from is not None:
            if db.update(self.model, using=using, where={"session_key": self._rotated_from},
                         values={"session_key": key, **values}):
                return
            # Nothing to move (its row expired or was ended meanwhile): start a row of its
            # own, as Django's store does.
            self._insert(using, values)
        elif self._stored_key != key:
            self._insert(using, values)
        elif not db.update(self.model, using=using, where={"session_key": key}, values=values):
            raise UpdateError  # the row was deleted meanwhile (signed out elsewhere)

    def _committed(self) -> None:
        self._uncommitted = None

    def _insert(self, using: str, values: dict) -> None:
        db.insert(self.model, using=using, values={"session_key": self.session_key, **values})

    def delete(self, session_key=None):
        if session_key is None:
            keys = {self.session_key, self._rotated_from} - {None}
            self._stored_key = self._rotated_from = self._written = self._uncommitted = None
        else:
            keys = {session_key}
        if keys:
            self.model._default_manager.filter(session_key__in=keys).delete()
