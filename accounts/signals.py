"""Signals of the accounts app. Payloads carry ids and context, never secrets.

Every signal is sent with ``sender`` = the user model class (or ``None``'s class for
events without a user) and these keyword arguments.

Four are sent from the mail worker, which decides what a sign-in or reset link asked for
by address gets (``accounts.flows.link_request``), after the request has been answered:
``magic_link_requested``, ``password_reset_requested``, ``unknown_address_asked`` and
``link_withheld``. Their ``request`` is None; ``authsuite.context.current()`` there gives
the asking request's IP, user agent and request id (the audit events record them). They
may come seconds after the request (minutes, while the broker is down), and with eager
Celery (no broker) right after it; none comes for a request decided after a newer
request's link was issued, which answers it. ``password_reset_requested`` is also sent in the
request of the admin's reset action. The others are sent where their change is made: in a
request, or with ``request`` None from a command, a periodic task or code of the project's
own (``account_deactivate``, ``account_reactivate``, ``account_unlock``, sessions ended by
``expire_sessions``):

- ``user_signed_up``: ``request``, ``user``
- ``signup_address_taken``: ``request``, ``user`` (the account that holds the address),
  ``email`` (the address typed); someone signed up with an address an account already
  holds, was told to check their inbox, and the address was mailed that it has an account
- ``email_added``: ``request``, ``user``, ``email``, ``by``
- ``email_verified``: ``request``, ``user``, ``email``, ``by``
- ``email_removed``: ``request``, ``user``, ``email``, ``by``
- ``email_changed``: ``request``, ``user``, ``old_email``, ``new_email`` (primary address),
  ``by``

``by`` is the staff member who did it in the admin, and None (or absent) when the user did.
- ``login_succeeded``: ``request``, ``user``, ``method`` (``"password"``, ``"magic_link"``...),
  ``amr`` (list of RFC 8176 values)
- ``login_failed``: ``request``, ``user`` (None when unknown), ``identifier`` (the typed email),
  ``method``, ``reason`` (``"credentials"``, ``"locked"``, ``"blocked"``: the consecutive-failure
  limit, ``"inactive"``)
- ``logged_out``: ``request``, ``user``
- ``reauthenticated``: ``request``, ``user``, ``method`` (``"password"``, ``"email"`` for an
  emailed link, or ``"passkey"`` from the passkeys app)
- ``password_changed``: ``request``, ``user``
- ``password_reset_requested``: ``request`` (None from the mail worker; the staff
  member's request for the admin's "Send a password-reset link"), ``user``, ``by`` (the
  staff member who sent the link from the admin, or None)
- ``password_change_required``: ``request``, ``user``, ``by`` (the staff member): the account
  must choose a new password at its next sign-in
- ``password_reset_completed``: ``request``, ``user``
- ``magic_link_requested``: ``request`` (None: the mail worker), ``user``
- ``magic_link_used``: ``request``, ``user``
- ``unknown_address_asked``: ``request`` (None: the mail worker), ``identifier`` (the typed
  email), ``purpose`` (``"magic_link"``, ``"password_reset"``): a link was asked for an
  address no account has
- ``link_withheld``: ``request`` (None: the mail worker), ``user``, ``email`` (the address
  asked for), ``purpose``
  (as above), ``reason`` (``"inactive"``: the account is disabled; ``"not_login_address"``:
  ``email`` is another address the account holds, not the one it signs in with): a link was
  asked for an address of an account, which gets none
- ``session_ended``: ``request``, ``user``, ``session_id`` (the tracking row id), ``reason``,
  ``by`` (staff who ended it from the admin, or None)
- ``account_locked``: ``request``, ``user`` (None when unknown), ``identifier``, ``ip``
  (None when account-wide), ``until`` (datetime; None when the consecutive-failure limit is
  reached: the password stays refused until another sign-in, a reset or staff unlock)
- ``account_unlocked``: ``request``, ``user``, ``by`` (staff user or None); only when there was
  something to unlock (``lockout.account_unlock``)
- ``account_closed``: ``request``, ``user_id``, ``email``, ``action`` (``"delete"``/``"deactivate"``)
- ``account_deactivated``: ``request``, ``user``, ``by``
- ``account_reactivated``: ``request``, ``user``, ``by`` (the staff member, or None from
  the project's own code): a disabled account may sign in again (staff's action or
  "Active" ticked on its page); its ended sessions and voided links stay so
"""

from django.dispatch import Signal

user_signed_up = Signal()
signup_address_taken = Signal()
email_added = Signal()
email_verified = Signal()
email_removed = Signal()
email_changed = Signal()
login_succeeded = Signal()
login_failed = Signal()
logged_out = Signal()
reauthenticated = Signal()
password_changed = Signal()
password_reset_requested = Signal()
password_change_required = Signal()
password_reset_completed = Signal()
magic_link_requested = Signal()
magic_link_used = Signal()
unknown_address_asked = Signal()
link_withheld = Signal()
session_ended = Signal()
account_locked = Signal()
account_unlocked = Signal()
account_closed = Signal()
account_deactivated = Signal()
account_reactivated = Signal()
