"""Users' choice of optional alerts, and what goes with a deleted account."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from audit.alerts.config import rules
from audit.models import AlertOptOut, AlertSent

if TYPE_CHECKING:
    from audit.alerts import AlertRule


PREFERENCE_ACTION = "audit.alert.preference_changed"


def optional_rules() -> list[AlertRule]:
    """The rules a user may turn off; critical ones are always sent."""
    return [rule for rule in rules() if not rule.critical]


def opted_out(user, rule: AlertRule) -> bool:
    return AlertOptOut.objects.filter(user_id=str(user.pk), rule=rule.name).exists()


def preferences(user) -> list[dict]:
    """Every configured rule, with whether it is sent to ``user``."""
    off = set(AlertOptOut.objects.filter(user_id=str(user.pk)).values_list("rule", flat=True))
    return [{"rule": rule.name, "subject": str(rule.subject), "critical": rule.critical,
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
