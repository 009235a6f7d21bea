"""Signals of the passkeys app (payloads never carry keys or challenges).

- ``passkey_added``: ``request``, ``user``, ``passkey_id``, ``name``, ``aaguid``
- ``passkey_removed``: ``request``, ``user``, ``passkey_id``, ``name``, ``by`` (staff or None),
  and ``reset`` (True) when staff reset two-step verification, whose own message tells the
  user of every passkey it removed, or ``batch`` (``(position, count)``) when staff removed
  several of the user's passkeys at once, whose one message goes with the first of them
- ``passkey_renamed``: ``request``, ``user``, ``passkey_id``, ``name``
- ``passkey_used``: ``request``, ``user``, ``passkey_id``, ``ceremony``
- ``passkey_failed``: ``request``, ``user`` (None when unknown), ``ceremony``, ``reason``
- ``passkey_clone_detected``: ``request``, ``user``, ``passkey_id``, ``stored_count``,
  ``received_count``
"""

from django.dispatch import Signal

passkey_added = Signal()
passkey_removed = Signal()
passkey_renamed = Signal()
passkey_used = Signal()
passkey_failed = Signal()
passkey_clone_detected = Signal()
