"""Which browsers a user signed in with before: the per-process memory and the trail's answer."""

from __future__ import annotations

import threading
from collections import OrderedDict

from audit.models import Event


class _KnownDevices:
    """Browsers a user has signed in with before, remembered by this process.

    Once the trail shows a user agent for a user, it stays known (only retention, a year
    on, could make it new again), so remembering it spares most sign-ins their lookup.
    Only facts read from the committed trail are remembered, never this sign-in's own.
    """

    def __init__(self, size: int = 10_000):
        self._size, self._keys, self._lock = size, OrderedDict(), threading.Lock()

    def seen(self, key) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key) -> None:
        with self._lock:
            self._keys[key] = True
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


_known_devices = _KnownDevices()


def _earlier_sign_ins(event: Event) -> tuple[bool, bool]:
    """(an earlier sign-in from this user agent, any earlier sign-in) in one round trip.

    This runs inside every sign-in, so it is one plain statement on the (actor, id) index
    rather than two ORM queries: building them would cost more than running them.
    """
    from django.db import connections, router

    connection = connections[router.db_for_read(Event)]
    qn = connection.ops.quote_name
    earlier = (f"SELECT 1 FROM {qn(Event._meta.db_table)} WHERE {qn('actor_id')} = %s "  # noqa: S608 - names, no input
               f"AND {qn('action')} = %s AND {qn('id')} < %s")
    sql = (f"SELECT EXISTS({earlier} AND {qn('user_agent')} = %s), EXISTS({earlier})")
    params = [event.actor_id, event.action, event.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, event.user_agent, *params])
        known, before = cursor.fetchone()
    return bool(known), bool(before)
