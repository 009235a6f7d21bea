from enum import StrEnum


class MFAError(StrEnum):
    CODE_INVALID = "mfa_code_invalid"
    THROTTLED = "mfa_throttled"
    LOCKED = "mfa_locked"
    NO_PENDING_SETUP = "mfa_no_pending_setup"
    ALREADY_ENROLLED = "mfa_already_enrolled"
    NOT_ENROLLED = "mfa_not_enrolled"
    NO_LOGIN_PENDING = "no_login_pending"
    TRUSTED_BROWSER_NOT_FOUND = "mfa_trusted_browser_not_found"
