"""Security alerts: rules that turn audit events into emails to the user concerned.

A rule names the actions it reacts to; ``applies`` may look at the event further. Mail
goes through the outbox, so alerts share its delivery guarantees; every alert sent leaves
an ``audit.alert.sent`` event. Repeats of one rule for one user are throttled, but for
changes to how the account signs in (:class:`CredentialChange`): each of those is reported. Projects add
rules by subclassing :class:`AlertRule` and listing them in ``AUTHSUITE_AUDIT_ALERT_RULES``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import timedelta
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from audit.app_settings import app_settings
from audit.models import AlertOptOut, AlertSent, Event
from authsuite.outbox import mail_enqueue
from authsuite.useragent import device_name


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
    advice: str = "If this was not you, reset your password now and review your sessions."

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
    subject = "New sign-in to your account"
    summary = "Your account was signed in to from a device it had not been used on before."

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


class _KnownDevices:
    """Browsers a user has signed in with before, remembered by this process.

    Once the trail shows a user agent for a user, it stays known (only retention, a year
    on, could make it new again), so remembering it spares most sign-ins their lookup.
    Only facts read from the committed trail are remembered, never this sign-in's own.
    """

    def __init__(self, size: int = 10_000):
        self._size, self._keys, self._lock = size, OrderedDict(), threading.Lock()

    def seen(self, key) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key) -> None:
        with self._lock:
            self._keys[key] = True
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


_known_devices = _KnownDevices()


def _earlier_sign_ins(event: Event) -> tuple[bool, bool]:
    """(an earlier sign-in from this user agent, any earlier sign-in) in one round trip.

    This runs inside every sign-in, so it is one plain statement on the (actor, id) index
    rather than two ORM queries: building them would cost more than running them.
    """
    from django.db import connections, router

    connection = connections[router.db_for_read(Event)]
    qn = connection.ops.quote_name
    earlier = (f"SELECT 1 FROM {qn(Event._meta.db_table)} WHERE {qn('actor_id')} = %s "  # noqa: S608 - names, no input
               f"AND {qn('action')} = %s AND {qn('id')} < %s")
    sql = (f"SELECT EXISTS({earlier} AND {qn('user_agent')} = %s), EXISTS({earlier})")
    params = [event.actor_id, event.action, event.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, event.user_agent, *params])
        known, before = cursor.fetchone()
    return bool(known), bool(before)


class AccountLocked(AlertRule):
    actions = ("accounts.account.locked",)
    subject = "Repeated failed sign-ins to your account"
    summary = ("Several sign-ins to your account failed in a row, so sign-in was paused "
               "for a while.")
    advice = ("If this was not you, someone may be guessing your password: choose a long, "
              "unique one and turn on two-step verification.")


class PasswordChanged(CredentialChange):
    actions = ("accounts.password.changed", "accounts.password.reset_completed")
    replaces = "accounts.password_changed"
    subject = "Your password was changed"
    summary = "The password of your account was changed and your other sessions were ended."
    advice = "If this was not you, reset your password now and contact us."


class EmailChanged(CredentialChange):
    actions = ("accounts.email.changed",)
    replaces = "accounts.email_changed"
    subject = "Your sign-in address was changed"
    summary = "The email address you sign in with was changed."
    advice = "If this was not you, contact us right away: someone may have access to your account."

    def recipients(self, event, user) -> list[str]:
        data = json.loads(event.data)
        return [e for e in (data.get("old_email"), data.get("new_email")) if e]

    def context(self, event) -> dict:
        data = json.loads(event.data)
        return {"old_email": data.get("old_email"), "new_email": data.get("new_email")}


class FactorAdded(CredentialChange):
    actions = ("mfa.totp.added",)
    replaces = "mfa.totp_added"
    subject = "A sign-in factor was added"
    summary = "An authenticator app was added to your account for two-step verification."


class FactorRemoved(CredentialChange):
    actions = ("mfa.totp.removed",)
    replaces = "mfa.totp_removed"
    subject = "A sign-in factor was removed"
    summary = "An authenticator app was removed from your account."
    advice = ("If this was not you, someone may control your account: reset your password "
              "and set two-step verification up again.")


class RecoveryCodeUsed(CredentialChange):  # every use is reported
    actions = ("mfa.recovery_code.used",)
    replaces = "mfa.recovery_code_used"
    subject = "A recovery code was used"
    summary = "A recovery code was used to sign in to your account."

    def context(self, event) -> dict:
        remaining = json.loads(event.data).get("remaining")
        return {"summary": f"{self.summary} {remaining} unused codes remain; create new ones "
                           f"if you are running low."}


class RecoveryCodesGenerated(CredentialChange):
    actions = ("mfa.recovery_codes.generated",)
    replaces = "mfa.recovery_codes_generated"
    subject = "New recovery codes were created"
    summary = "A new set of recovery codes was created; the old codes no longer work."

    def applies(self, event, user) -> bool:
        # Codes created together with a new authenticator app are covered by that alert.
        return not Event.objects.filter(actor_id=event.actor_id, action="mfa.totp.added",
                                        request_id=event.request_id).exists()


class SecondFactorLocked(AlertRule):
    actions = ("mfa.challenge.locked",)
    replaces = "mfa.challenge_locked"
    subject = "Repeated wrong two-step codes"
    summary = ("Someone entered your password correctly but then failed the two-step "
               "verification several times.")
    advice = "Your password is probably known to someone else: change it now."


class MFAReset(CredentialChange):
    """One message for the whole reset, naming what it removed: the passkeys it took are
    events of their own, but not messages (see :class:`PasskeyRemoved`)."""

    actions = ("mfa.reset",)
    replaces = "mfa.reset"
    subject = "Two-step verification was reset"
    summary = ("Staff reset two-step verification on your account: every second factor "
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
    subject = "A passkey was added"
    summary = "A passkey was added to your account."


class PasskeyRemoved(CredentialChange):
    """One message per passkey removed on its own; staff removing several at once are one
    message, sent with the first of them, naming how many (``batch``: position, count)."""

    actions = ("passkeys.removed",)
    replaces = "passkeys.removed"
    subject = "A passkey was removed"
    summary = "A passkey was removed from your account."

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

        return {"title": "Passkeys were removed", "summary": removed_summary(batch[1])}


class PasskeyCloned(AlertRule):
    actions = ("passkeys.clone_detected",)
    subject = "A passkey was disabled"
    summary = ("One of your passkeys answered with a counter lower than before, which is what "
               "a copied authenticator does. It was disabled.")
    advice = ("Sign in another way, remove that passkey, and create a new one. If you did "
              "not copy it, someone may have.")


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[AlertRule, ...]:
    return tuple(import_string(path)() for path in paths)


def rules() -> tuple[AlertRule, ...]:
    return _load(tuple(app_settings.ALERT_RULES))


def claims(notice: str) -> bool:
    """Notice claimer for ``authsuite.notices``: our rules send these notices.

    Nothing is claimed while auditing is off: no event, so no rule would send it.
    """
    if not app_settings.ENABLED:
        return False
    return any(rule.replaces == notice for rule in rules())


def _user_for(event: Event, user):
    """Who the alert is about: the target user when there is one (a staff action on an
    account), else the actor."""
    model = get_user_model()
    if event.target_type == "user" and event.target_id:
        if user is not None and str(user.pk) == event.target_id:
            return user
        return model._default_manager.filter(pk=event.target_id).first()
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    if event.actor_id:
        return model._default_manager.filter(pk=event.actor_id).first()
    return None


SENT_ACTION = "audit.alert.sent"
PREFERENCE_ACTION = "audit.alert.preference_changed"


def evaluate(event: Event, *, user=None) -> None:
    if event.action == SENT_ACTION:
        return  # an alert about an alert would never end
    matching = [rule for rule in rules() if event.action in rule.actions]
    if not matching:
        return
    user = _user_for(event, user)
    if user is None:
        return
    for rule in matching:
        # applies() first: it is what spares most events any query (a known device).
        if rule.applies(event, user) and (rule.critical or not opted_out(user, rule)):
            _send(rule, event, user)


# Preferences ---------------------------------------------------------------------------

def optional_rules() -> list[AlertRule]:
    """The rules a user may turn off; critical ones are always sent."""
    return [rule for rule in rules() if not rule.critical]


def opted_out(user, rule: AlertRule) -> bool:
    return AlertOptOut.objects.filter(user_id=str(user.pk), rule=rule.name).exists()


def preferences(user) -> list[dict]:
    """Every configured rule, with whether it is sent to ``user``."""
    off = set(AlertOptOut.objects.filter(user_id=str(user.pk)).values_list("rule", flat=True))
    return [{"rule": rule.name, "subject": rule.subject, "critical": rule.critical,
             "enabled": rule.critical or rule.name not in off} for rule in rules()]


def forget_user(sender, instance, **kwargs) -> None:
    """post_delete of the user model: a deleted account's alert settings and throttle rows go
    with it (its events stay: the trail keeps what happened)."""
    AlertOptOut.objects.filter(user_id=str(instance.pk)).delete()
    AlertSent.objects.filter(user_id=str(instance.pk)).delete()


def preference_set(request, *, user, rule_name: str, enabled: bool) -> None:
    """Turn one optional rule on or off for ``user`` (audited).

    Raises LookupError for a rule that is not configured, PermissionError for a critical
    one: those cannot be turned off.
    """
    from audit import recorder

    rule = next((r for r in rules() if r.name == rule_name), None)
    if rule is None:
        raise LookupError(rule_name)
    if rule.critical:
        if enabled:
            return
        raise PermissionError(rule_name)
    with transaction.atomic():
        if enabled:
            changed = AlertOptOut.objects.filter(user_id=str(user.pk), rule=rule.name).delete()[0]
        else:
            _row, changed = AlertOptOut.objects.get_or_create(user_id=str(user.pk),
                                                              rule=rule.name)
        if changed:
            recorder.write(action=PREFERENCE_ACTION, request=request, user=user,
                           data={"rule": rule.name, "enabled": enabled})


def _send(rule: AlertRule, event: Event, user) -> None:
    from audit import recorder

    key = rule.throttle_key(event)
    now = timezone.now()
    throttle = app_settings.ALERT_THROTTLE
    since = now - timedelta(seconds=throttle)
    if AlertSent.objects.filter(rule=rule.name, user_id=str(user.pk), key=key,
                                sent_at__gte=since).exists():
        return
    try:
        # The check above cannot see a concurrent event's uncommitted row; the unique
        # (rule, user, key, window) can: of two racing alerts, one inserts, one waits for it
        # and is refused.
        with transaction.atomic():
            AlertSent.objects.create(rule=rule.name, user_id=str(user.pk), key=key, sent_at=now,
                                     window=int(now.timestamp()) // throttle
                                     if throttle > 0 else None)
    except IntegrityError:
        return
    context = {
        "title": rule.subject, "summary": rule.summary, "advice": rule.advice,
        "when": event.occurred_at.strftime("%Y-%m-%d %H:%M UTC"), "ip": event.ip or "unknown",
        "device": device_name(event.user_agent), "event_id": event.pk, **rule.context(event),
    }
    recipients = rule.recipients(event, user)
    for address in recipients:
        mail_enqueue(template="audit/email/alert", to=address, user=user, context=context)
    recorder.write(action=SENT_ACTION, user=user,
                   target=("audit.event", str(event.pk), event.action),
                   data={"rule": rule.name, "recipients": len(recipients)})
