from enum import StrEnum


class PasskeyError(StrEnum):
    INVALID = "passkey_invalid"  # any verification failure of a ceremony response
    CHALLENGE_MISSING = "passkey_challenge_missing"  # none, used, expired, wrong ceremony
    UNKNOWN_CREDENTIAL = "passkey_unknown_credential"
    CLONED = "passkey_cloned"
    LAST_CREDENTIAL = "passkey_last_credential"
    NOT_FOUND = "passkey_not_found"
    LIMIT = "passkey_limit"
    DUPLICATE = "passkey_duplicate"
    SIGNUP_DISABLED = "passkey_signup_disabled"
    NOT_SECOND_FACTOR = "passkey_not_second_factor"  # would not make the sign-in multi-factor
