"""Error codes of the accounts flows, shared by the HTML views and the JSON API."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied


class AccountsError(StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_LOCKED = "account_locked"
    PASSWORD_BLOCKED = "password_blocked"
    RATE_LIMITED = "rate_limited"
    SIGNUP_CLOSED = "signup_closed"
    MAGIC_LINK_DISABLED = "magic_link_disabled"
    TOKEN_INVALID = "token_invalid"
    PASSWORD_INVALID = "password_invalid"
    #: A new password the breach check could not be made for (its service down), refused
    #: because ``AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE`` is ``"refuse"``.
    PASSWORD_CHECK_UNAVAILABLE = "password_check_unavailable"
    PASSWORD_INCORRECT = "password_incorrect"
    PASSWORD_REQUIRED = "password_required"
    EMAIL_IN_USE = "email_in_use"
    EMAIL_NOT_FOUND = "email_not_found"
    EMAIL_PRIMARY = "email_primary"
    EMAIL_UNVERIFIED = "email_unverified"
    EMAIL_ALREADY_VERIFIED = "email_already_verified"
    EMAIL_ALREADY_ADDED = "email_already_added"
    EMAIL_LIMIT = "email_limit"
    #: A new address whose domain label or local part mixes scripts that let it pass for
    #: another (Latin with Cyrillic or Greek, say): see ``accounts.scripts``.
    EMAIL_MIXED_SCRIPT = "email_mixed_script"
    NO_LOGIN_PENDING = "no_login_pending"
    SESSION_NOT_FOUND = "session_not_found"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    USE_PASSWORD = "use_password"
    #: Confirming an address of an account without a password, from a browser not signed
    #: in as it: only a browser signed in as the account may (see
    #: ``accounts.flows.email.verification_sign_in_required``).
    SIGN_IN_REQUIRED = "sign_in_required"


class SignInRefused(PermissionDenied):
    """The account was disabled while its sign-in completed: a deactivation committed
    between the check of its credentials and the sign-in's own writes. Nothing of the
    sign-in is kept, and the request is refused as one by a disabled account is (403)."""

    def __init__(self):
        super().__init__("This account is disabled.")


class AccountGone(PermissionDenied):
    """The account was deleted while a request of its own was adding to it (an address, an
    authenticator app, a passkey): the request waited for the delete's lock on its row and
    then found none. It is refused (403) with nothing written, instead of failing at commit
    on rows that refer to an account no longer there (a 500)."""

    def __init__(self):
        super().__init__("This account no longer exists.")


STATUS = {
    AccountsError.INVALID_CREDENTIALS: 400,
    AccountsError.ACCOUNT_LOCKED: 429,
    AccountsError.PASSWORD_BLOCKED: 403,
    AccountsError.RATE_LIMITED: 429,
    AccountsError.SIGNUP_CLOSED: 403,
    AccountsError.MAGIC_LINK_DISABLED: 403,
    AccountsError.TOKEN_INVALID: 400,
    AccountsError.NO_LOGIN_PENDING: 409,
    AccountsError.SESSION_NOT_FOUND: 404,
    AccountsError.EMAIL_NOT_FOUND: 404,
    AccountsError.EMAIL_IN_USE: 409,
    AccountsError.EMAIL_ALREADY_VERIFIED: 409,
    AccountsError.REAUTHENTICATION_REQUIRED: 403,
    AccountsError.USE_PASSWORD: 409,
    AccountsError.SIGN_IN_REQUIRED: 403,
    # Not the client's fault, and the same password may pass in a moment.
    AccountsError.PASSWORD_CHECK_UNAVAILABLE: 503,
}


class FlowError(Exception):
    """A flow refused: ``code`` for clients, ``message`` for people.

    ``field`` names the form field the message belongs to (None: the whole form);
    ``retry_after`` is set for rate limits and lockouts.
    """

    def __init__(self, code: AccountsError, message: str, *, field: str | None = None,
                 retry_after: int | None = None, messages: list[str] | None = None,
                 status: int | None = None):
        super().__init__(message)
        self._status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after
        self.messages = messages or [message]

    @property
    def status(self) -> int:
        if self._status is not None:
            return self._status
        if self.retry_after:
            return 429
        return STATUS.get(self.code, 400)
