"""Audit events of the MFA app."""

from audit import recorder
from audit.registry import declare
from mfa import signals as s


def _user_target(kwargs):
    return recorder.user_target(kwargs.get("user"))


def _removed(kwargs):
    """What a staff reset removed, ``{factor name: count}`` (counts only, never a row)."""
    removed = kwargs.get("removed")
    if removed is None:
        return {}
    return {"removed": {str(name): int(count) for name, count in removed.items()}}


M = "mfa"
declare(M, s.totp_added, "mfa.totp.added", data=("device_id",))
declare(M, s.totp_removed, "mfa.totp.removed", data=("device_id",))
declare(M, s.recovery_codes_generated, "mfa.recovery_codes.generated",
        data=("count", "with_app"))
declare(M, s.recovery_code_used, "mfa.recovery_code.used", data=("remaining",))
declare(M, s.challenge_succeeded, "mfa.challenge.succeeded", data=("method",))
declare(M, s.challenge_failed, "mfa.challenge.failed", outcome="failure",
        data=("method", "failures"))
declare(M, s.challenge_locked, "mfa.challenge.locked", outcome="denied")
declare(M, s.browser_trusted, "mfa.browser.trusted", data=("trusted_id",))
declare(M, s.browser_untrusted, "mfa.browser.untrusted", data=("trusted_id",))
declare(M, s.mfa_reset, "mfa.reset", actor="by", target=_user_target, extra=_removed)
declare(M, s.mfa_disabled, "mfa.disabled")
