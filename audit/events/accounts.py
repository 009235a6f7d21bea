"""Audit events of the accounts app."""

from accounts import signals as s
from audit import recorder
from audit.registry import declare
from authsuite import crypto


def _user_target(kwargs):
    return recorder.user_target(kwargs.get("user"))


def _identifier(kwargs):
    # The typed identifier is kept only as a keyed digest when it matches no account:
    # people type passwords into the email field, and those must never reach the log.
    if kwargs.get("user") is not None or not kwargs.get("identifier"):
        return {}
    return {"identifier_digest": crypto.token_digest(kwargs["identifier"],
                                                     purpose="audit-identifier")[:16]}


def _device(kwargs):
    from authsuite import context
    from authsuite.useragent import device_name

    return {"device": device_name(context.current().user_agent)}


A = "accounts"
declare(A, s.user_signed_up, "accounts.signup")
declare(A, s.signup_address_taken, "accounts.signup.address_taken", outcome="denied",
        data=("email",))
declare(A, s.email_added, "accounts.email.added", data=("email",))
declare(A, s.email_verified, "accounts.email.verified", data=("email",))
declare(A, s.email_removed, "accounts.email.removed", data=("email",))
declare(A, s.email_changed, "accounts.email.changed", data=("old_email", "new_email"))
declare(A, s.login_succeeded, "accounts.login.succeeded", data=("method", "amr"), extra=_device)
declare(A, s.login_failed, "accounts.login.failed", outcome="failure",
        data=("method", "reason"), extra=_identifier)
declare(A, s.logged_out, "accounts.logout")
declare(A, s.reauthenticated, "accounts.reauthenticated", data=("method",))
declare(A, s.password_changed, "accounts.password.changed")
declare(A, s.password_reset_requested, "accounts.password.reset_requested")
declare(A, s.password_change_required, "accounts.password.change_required")
declare(A, s.password_reset_completed, "accounts.password.reset_completed")
declare(A, s.magic_link_requested, "accounts.magic_link.requested")
declare(A, s.magic_link_used, "accounts.magic_link.used")
declare(A, s.unknown_address_asked, "accounts.unknown_address", outcome="failure",
        data=("purpose",), extra=_identifier)
declare(A, s.link_withheld, "accounts.link.withheld", outcome="denied",
        data=("email", "purpose", "reason"))
declare(A, s.session_ended, "accounts.session.ended", data=("session_id", "reason"))
declare(A, s.account_locked, "accounts.account.locked", outcome="denied",
        data=("ip", "until"), extra=_identifier)
declare(A, s.account_unlocked, "accounts.account.unlocked", actor="by", target=_user_target)
declare(A, s.account_deactivated, "accounts.account.deactivated", actor="by",
        target=_user_target)
declare(A, s.account_reactivated, "accounts.account.reactivated", actor="by",
        target=_user_target)
declare(A, s.account_closed, "accounts.account.closed", actor=None, data=("action",),
        target=lambda kw: ("user", str(kw.get("user_id")), str(kw.get("email", ""))))
