"""Who must use a second factor, and whether their grace period is over."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from django.utils import timezone
from django.utils.module_loading import import_string

from mfa.app_settings import app_settings
from mfa.models import EnforcementState


@lru_cache(maxsize=4)
def _callable(path: str):
    return import_string(path)


def is_required(user) -> bool:
    rule = app_settings.REQUIRED
    if rule == "nobody":
        return False
    if rule == "everyone":
        return True
    if rule == "staff":
        return bool(user.is_staff or user.is_superuser)
    return bool(_callable(rule)(user))


def enrollment_due(user, *, has_mfa: bool | None = None) -> bool:
    """True when the user must have MFA, has none, and any grace period has run out.

    ``has_mfa``: whether the user has a factor, when the caller already knows.
    """
    from mfa import devices

    if not is_required(user):
        return False
    if has_mfa is None:
        has_mfa = devices.has_mfa(user)
    if has_mfa:
        return False
    grace = app_settings.GRACE_PERIOD
    if grace <= 0:
        return True
    state, _ = EnforcementState.objects.get_or_create(user=user)
    return timezone.now() >= state.required_since + timedelta(seconds=grace)


def grace_ends(user):
    """End of the grace period for a user still allowed in without MFA, else None."""
    from mfa.devices import has_mfa

    if not is_required(user) or has_mfa(user) or app_settings.GRACE_PERIOD <= 0:
        return None
    state = EnforcementState.objects.filter(user=user).first()
    if state is None:
        return None
    return state.required_since + timedelta(seconds=app_settings.GRACE_PERIOD)
