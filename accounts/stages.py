"""The login stages the accounts app contributes."""

from __future__ import annotations

from functools import cache

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from accounts.app_settings import app_settings
from accounts.errors import FlowError
from accounts.flows.email import needs_verification, verification_resend
from accounts.models import EmailAddress, PasswordChangeRequired
from accounts.pipeline import Stage


@cache
def _facts() -> dict:
    user = OuterRef("pk")
    return {
        # Any address waiting for verification; whether it is the one the user signs in
        # with is checked only then (rarely).
        "accounts_unverified": Exists(EmailAddress.objects.filter(user=user, verified=False)),
        "accounts_password_change": Exists(PasswordChangeRequired.objects.filter(user=user)),
    }


class VerifyEmailStage(Stage):
    """Mandatory verification: an unverified user is sent a link instead of a session."""

    key = "verify_email"
    order = 10
    url_name = "accounts:verification_sent"
    description = _("Verify your email address: we sent you a link.")

    def facts(self, request, user, state) -> dict:
        if app_settings.EMAIL_VERIFICATION != "mandatory":
            return {}
        return {"accounts_unverified": _facts()["accounts_unverified"]}

    def is_needed(self, request, user, state, facts) -> bool:
        return bool(facts.get("accounts_unverified")) and needs_verification(user)

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
    description = _("Choose a new password to finish signing in.")

    def facts(self, request, user, state) -> dict:
        return {"accounts_password_change": _facts()["accounts_password_change"]}

    def is_needed(self, request, user, state, facts) -> bool:
        return bool(facts["accounts_password_change"])
