from enum import StrEnum

from django.utils.translation import gettext as _

from accounts.errors import FlowError


class MFAError(StrEnum):
    CODE_INVALID = "mfa_code_invalid"
    THROTTLED = "mfa_throttled"
    LOCKED = "mfa_locked"
    NO_PENDING_SETUP = "mfa_no_pending_setup"
    ALREADY_ENROLLED = "mfa_already_enrolled"
    NOT_ENROLLED = "mfa_not_enrolled"
    NO_LOGIN_PENDING = "no_login_pending"
    NOT_SECOND_FACTOR = "mfa_not_second_factor"  # would not make the sign-in multi-factor
    TRUSTED_BROWSER_NOT_FOUND = "mfa_trusted_browser_not_found"


class WrongCode(FlowError):
    """A second-factor code that is not valid. ``failures``: the device's wrong codes in a
    row, this one included, whatever sign-ins they came in (0 without a device)."""

    def __init__(self, failures: int = 0):
        super().__init__(MFAError.CODE_INVALID, _("That code is not valid."), field="code")
        self.failures = failures
