"""MFA flows: enrollment, removal, recovery codes, the sign-in challenge, staff reset.

Split by what they act on: ``authenticator`` (the app's setup, activation and removal),
``verification`` (a code checked at a sign-in or a step-up) and ``factors`` (the factors
as a whole: the last one removed, new recovery codes, a staff reset), with what they share
in ``common``. Every flow is importable from here as before.
"""

from mfa.flows.authenticator import (
    SETUP_KEY,
    SETUP_LIFETIME,
    Setup,
    setups_void,
    totp_activate,
    totp_remove,
    totp_setup_allowed,
    totp_setup_begin,
    totp_setup_pending,
)
from mfa.flows.factors import factor_removed, mfa_reset, recovery_regenerate, reset_summary
from mfa.flows.verification import FAILURES_KEY, challenge, code_checked, step_up

__all__ = [
    "FAILURES_KEY",
    "SETUP_KEY",
    "SETUP_LIFETIME",
    "Setup",
    "challenge",
    "code_checked",
    "factor_removed",
    "mfa_reset",
    "recovery_regenerate",
    "reset_summary",
    "setups_void",
    "step_up",
    "totp_activate",
    "totp_remove",
    "totp_setup_allowed",
    "totp_setup_begin",
    "totp_setup_pending",
]
