"""Signals of the MFA app (payloads never carry secrets or codes).

- ``totp_added``: ``request``, ``user``, ``device_id``
- ``totp_removed``: ``request``, ``user``, ``device_id``
- ``recovery_codes_generated``: ``request``, ``user``, ``count``, and ``with_app`` (True) when
  they were made with a new authenticator app, whose own ``totp_added`` tells of them
- ``recovery_code_used``: ``request``, ``user``, ``remaining``
- ``challenge_succeeded``: ``request``, ``user``, ``method`` (``"totp"``/``"recovery_code"``)
- ``challenge_failed``: ``request``, ``user``, ``method``, ``failures`` (wrong codes in this
  sign-in; None for a signed-in user's step-up)
- ``challenge_locked``: ``request``, ``user`` (too many wrong codes: a sign-in abandoned, or
  every ``CHALLENGE_MAX_FAILURES`` in a row on the account's device, at a sign-in or a step-up)
- ``browser_trusted``: ``request``, ``user``, ``trusted_id``
- ``browser_untrusted``: ``request``, ``user``, ``trusted_id`` (None: all of them), ``by``
- ``mfa_reset``: ``request``, ``user``, ``by`` (staff user), ``removed`` (``{factor name:
  count}`` of what the account had: ``"totp"``, ``"recovery_codes"`` unused, ``"passkey"``...)
- ``mfa_disabled``: ``request``, ``user``, ``by`` (the last second factor was removed)

``by`` is the staff member whose change caused it (a reset, a passkey removed in the admin),
and None (or absent) when the user did. ``request`` is then the staff member's.
"""

from django.dispatch import Signal

totp_added = Signal()
totp_removed = Signal()
recovery_codes_generated = Signal()
recovery_code_used = Signal()
challenge_succeeded = Signal()
challenge_failed = Signal()
challenge_locked = Signal()
browser_trusted = Signal()
browser_untrusted = Signal()
mfa_reset = Signal()
mfa_disabled = Signal()
