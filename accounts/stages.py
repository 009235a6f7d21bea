"""The login stages the accounts app contributes."""

from __future__ import annotations

from accounts.errors import FlowError
from accounts.flows.email import needs_verification, verification_resend
from accounts.models import PasswordChangeRequired
from accounts.pipeline import Stage


class VerifyEmailStage(Stage):
    """Mandatory verification: an unverified user is sent a link instead of a session."""

    key = "verify_email"
    order = 10
    url_name = "accounts:verification_sent"
    description = "Verify your email address: we sent you a link."

    def is_needed(self, request, user, state) -> bool:
        return needs_verification(user)

    def on_enter(self, request, user) -> None:
        try:
            verification_resend(request, user=user)
        except FlowError:
            pass  # rate limited: the earlier link is still in their inbox

    def abandons_login(self) -> bool:
        return True


class PasswordChangeRequiredStage(Stage):
    """Staff asked for a new password: the user chooses one before getting a session."""

    key = "password_change_required"
    order = 900
    url_name = "accounts:password_change_required"
    description = "Choose a new password to finish signing in."

    def is_needed(self, request, user, state) -> bool:
        return PasswordChangeRequired.objects.filter(user=user).exists()
