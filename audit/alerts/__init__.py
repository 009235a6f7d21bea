"""Security alerts: rules that turn audit events into emails to the user concerned.

A rule names the actions it reacts to; ``applies`` may look at the event further. Mail
goes through the outbox, so alerts share its delivery guarantees; every alert sent leaves
an ``audit.alert.sent`` event. Repeats of one rule for one user are throttled, but for
changes to how the account signs in (:class:`CredentialChange`): each of those is reported. Projects add
rules by subclassing :class:`AlertRule` and listing them in ``AUTHSUITE_AUDIT_ALERT_RULES``.

The rules are defined here, in the package itself: a rule's name is its dotted path
(``audit.alerts.NewDeviceSignIn``), which is what the setting lists and what opt-outs and
sent alerts store. The machinery is in ``config`` (the rules in force), ``sending``
(evaluating events, throttling, mailing), ``preferences`` (users' opt-outs) and ``devices``
(the browsers a user signed in with before); its names are importable from here as before.
"""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.alerts.config import claims, rules
from audit.alerts.devices import _earlier_sign_ins, _known_devices
from audit.alerts.preferences import (
    PREFERENCE_ACTION,
    forget_user,
    opted_out,
    optional_rules,
    preference_set,
    preferences,
)
from audit.alerts.sending import SENT_ACTION, evaluate
from audit.models import Event

__all__ = [
    "PREFERENCE_ACTION",
    "SENT_ACTION",
    "AccountLocked",
    "AlertRule",
    "CredentialChange",
    "EmailChanged",
    "FactorAdded",
    "FactorRemoved",
    "MFAReset",
    "NewDeviceSignIn",
    "PasskeyAdded",
    "PasskeyCloned",
    "PasskeyRemoved",
    "PasswordChanged",
    "RecoveryCodeUsed",
    "RecoveryCodesGenerated",
    "SecondFactorLocked",
    "claims",
    "evaluate",
    "forget_user",
    "opted_out",
    "optional_rules",
    "preference_set",
    "preferences",
    "rules",
]


class AlertRule:
    #: Actions this rule reacts to.
    actions: tuple[str, ...] = ()
    #: Critical alerts are always sent; users cannot opt out of them. A rule is critical
    #: unless it sets ``critical = False``.
    critical: bool = True
    #: Notice another app would otherwise send itself ("accounts.password_changed").
    replaces: str = ""
    subject: str = ""
    summary: str = ""
    advice: str = _("If this was not you, reset your password now and review your sessions.")

    @property
    def name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def applies(self, event: Event, user) -> bool:
        return True

    def recipients(self, event: Event, user) -> list[str]:
        email = getattr(user, get_user_model().get_email_field_name(), "")
        return [email] if email else []

    def throttle_key(self, event: Event) -> str:
        return ""

    def context(self, event: Event) -> dict:
        return {}


class CredentialChange(AlertRule):
    """A change to how the account signs in (password, address, a factor): every one is
    reported, never throttled. A second passkey added a minute after the first may be an
    intruder's (NIST SP 800-63B-4 4.1, ASVS 5.0 6.3.7)."""

    def throttle_key(self, event) -> str:
        return str(event.pk)


class NewDeviceSignIn(AlertRule):
    actions = ("accounts.login.succeeded",)
    critical = False
    subject = _("New sign-in to your account")
    summary = _("Your account was signed in to from a device it had not been used on before.")

    def applies(self, event, user) -> bool:
        # A sign-in from a known browser is not news, and neither is the very first one.
        key = (event.actor_id, event.actor_repr, event.user_agent)
        if _known_devices.seen(key):
            return False
        known, signed_in_before = _earlier_sign_ins(event)
        if known:
            _known_devices.add(key)
        return signed_in_before and not known

    def throttle_key(self, event) -> str:
        return event.user_agent[:200]


class AccountLocked(AlertRule):
    actions = ("accounts.account.locked",)
    subject = _("Repeated failed sign-ins to your account")
    summary = _("Several sign-ins to your account failed in a row, so sign-in was paused "
               "for a while.")
    advice = _("If this was not you, someone may be guessing your password: choose a long, "
              "unique one and turn on two-step verification.")


class PasswordChanged(CredentialChange):
    actions = ("accounts.password.changed", "accounts.password.reset_completed")
    replaces = "accounts.password_changed"
    subject = _("Your password was changed")
    summary = _("The password of your account was changed and your other sessions were ended.")
    advice = _("If this was not you, reset your password now and contact us.")


class EmailChanged(CredentialChange):
    actions = ("accounts.email.changed",)
    replaces = "accounts.email_changed"
    subject = _("Your sign-in address was changed")
    summary = _("The email address you sign in with was changed.")
    advice = _("If this was not you, contact us right away: someone may have access to your account.")

    def recipients(self, event, user) -> list[str]:
        data = json.loads(event.data)
        return [e for e in (data.get("old_email"), data.get("new_email")) if e]

    def context(self, event) -> dict:
        data = json.loads(event.data)
        return {"old_email": data.get("old_email"), "new_email": data.get("new_email")}


class FactorAdded(CredentialChange):
    actions = ("mfa.totp.added",)
    replaces = "mfa.totp_added"
    subject = _("A sign-in factor was added")
    summary = _("An authenticator app was added to your account for two-step verification.")


class FactorRemoved(CredentialChange):
    actions = ("mfa.totp.removed",)
    replaces = "mfa.totp_removed"
    subject = _("A sign-in factor was removed")
    summary = _("An authenticator app was removed from your account.")
    advice = _("If this was not you, someone may control your account: reset your password "
              "and set two-step verification up again.")


class RecoveryCodeUsed(CredentialChange):  # every use is reported
    actions = ("mfa.recovery_code.used",)
    replaces = "mfa.recovery_code_used"
    subject = _("A recovery code was used")
    summary = _("A recovery code was used to sign in to your account.")

    def context(self, event) -> dict:
        remaining = json.loads(event.data).get("remaining")
        if remaining is None:
            return {}
        return {"summary": ngettext(
            "%(summary)s %(remaining)d unused code remains; create new ones if you are running low.",
            "%(summary)s %(remaining)d unused codes remain; create new ones if you are running low.",
            remaining) % {"summary": self.summary, "remaining": remaining}}


class RecoveryCodesGenerated(CredentialChange):
    actions = ("mfa.recovery_codes.generated",)
    replaces = "mfa.recovery_codes_generated"
    subject = _("New recovery codes were created")
    summary = _("A new set of recovery codes was created; the old codes no longer work.")

    def applies(self, event, user) -> bool:
        # Codes created together with a new authenticator app are covered by that alert.
        # Said by the event itself: the request id is the client's to choose (X-Request-ID),
        # and one reused from the request that added the app would keep new codes quiet.
        return not json.loads(event.data).get("with_app")


class SecondFactorLocked(AlertRule):
    actions = ("mfa.challenge.locked",)
    replaces = "mfa.challenge_locked"
    subject = _("Repeated wrong two-step codes")
    summary = _("Someone entered your password correctly but then failed the two-step "
               "verification several times.")
    advice = _("Your password is probably known to someone else: change it now.")


class MFAReset(CredentialChange):
    """One message for the whole reset, naming what it removed: the passkeys it took are
    events of their own, but not messages (see :class:`PasskeyRemoved`)."""

    actions = ("mfa.reset",)
    replaces = "mfa.reset"
    subject = _("Two-step verification was reset")
    summary = _("Staff reset two-step verification on your account: every second factor "
               "(authenticator app, recovery codes, passkeys) was removed. Set it up again "
               "the next time you sign in.")

    def context(self, event) -> dict:
        removed = json.loads(event.data).get("removed")
        if removed is None:
            return {}  # an event from before resets said what they removed
        from mfa.flows import reset_summary  # only the mfa app records mfa.reset

        return {"summary": reset_summary(removed)}


class PasskeyAdded(CredentialChange):
    actions = ("passkeys.added",)
    replaces = "passkeys.added"
    subject = _("A passkey was added")
    summary = _("A passkey was added to your account.")


class PasskeyRemoved(CredentialChange):
    """One message per passkey removed on its own; staff removing several at once are one
    message, sent with the first of them, naming how many (``batch``: position, count)."""

    actions = ("passkeys.removed",)
    replaces = "passkeys.removed"
    subject = _("A passkey was removed")
    summary = _("A passkey was removed from your account.")

    def applies(self, event, user) -> bool:
        data = json.loads(event.data)
        # Part of a staff reset: the reset's one message names every passkey it removed.
        if data.get("reset"):
            return False
        batch = data.get("batch")
        return not batch or batch[0] == 1

    def context(self, event) -> dict:
        batch = json.loads(event.data).get("batch")
        if not batch:
            return {}
        from passkeys.flows.management import removed_summary  # only the passkeys app records these

        return {"title": str(_("Passkeys were removed")), "summary": removed_summary(batch[1])}


class PasskeyCloned(AlertRule):
    actions = ("passkeys.clone_detected",)
    replaces = "passkeys.cloned"
    subject = _("A passkey was disabled")
    summary = _("One of your passkeys answered with a counter lower than before, which is what "
               "a copied authenticator does. It was disabled.")
    advice = _("Sign in another way, remove that passkey, and create a new one. If you did "
              "not copy it, someone may have.")
