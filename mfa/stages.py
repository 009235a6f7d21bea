"""The login stages MFA contributes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from accounts import authrecord
from accounts.errors import FlowError
from accounts.flows.email import unproven_address, verification_resend
from accounts.pipeline import Stage
from mfa import devices, policy, registry, trust

NO_WAY_LEFT = gettext_lazy(
    "This account has no second factor that can be used now (its passkey was disabled for "
    "safety and no recovery code is left). Ask staff to reset two-step verification.")


class SecondFactorStage(Stage):
    """A user with a second factor proves it before any session is authenticated,
    whatever the first factor was (password, magic link, a password just reset)."""

    key = "mfa"
    order = 100
    url_name = "mfa:challenge"
    description = gettext_lazy("Enter a code from your authenticator app or a recovery code.")

    def facts(self, request, user, state) -> dict:
        if "mfa" in authrecord.combine(state.amr):
            return {}  # the first factor already was multi-factor (a verified passkey)
        return registry.factor_facts()

    def is_needed(self, request, user, state, facts) -> bool:
        if "mfa" in authrecord.combine(state.amr):
            return False
        return registry.has_factor(facts) and trust.trusted(request, user) is None

    def details(self, user, state) -> dict:
        """``methods``: the ways through (``totp``, ``passkey``, ``recovery_code``) for this
        sign-in, so that a client offers only those; none left (only a passkey flagged as
        cloned) is said."""
        methods = devices.ways(user, state.amr)
        if methods:
            return {"methods": methods}
        return {"methods": [], "message": str(NO_WAY_LEFT)}


class EnrollStage(Stage):
    """A user who must have MFA but has none sets it up before getting a session."""

    key = "mfa_enroll"
    order = 110
    url_name = "mfa:enroll"
    description = gettext_lazy("Set up two-step verification to finish signing in.")

    def facts(self, request, user, state) -> dict:
        return registry.factor_facts() if policy.is_required(user) else {}

    def is_needed(self, request, user, state, facts) -> bool:
        return policy.enrollment_due(user, has_mfa=registry.has_factor(facts))

    def on_enter(self, request, user) -> None:
        # No factor is added to an account whose address is unproven (pre-hijacking): the
        # enrolment page says so, and a fresh link lets the owner prove it and go on.
        if unproven_address(user):
            try:
                verification_resend(request, user=user)
            except FlowError:
                pass  # rate limited: the earlier link is still in their inbox
