from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.models import normalize_email
from authsuite import context, ratelimit


def rate_limit(request, group: str, *, account: str | None = None) -> None:
    """Count an attempt of ``group`` per IP (and per account) and refuse it when over."""
    rates = app_settings.RATE_LIMITS.get(group, {})
    limits = {"ip": (rates.get("ip"), context.current().ip or "unknown")}
    if account is not None:
        limits["account"] = (rates.get("account"), normalize_email(account))
    decision = ratelimit.check_all(request, group=f"accounts.{group}", limits=limits)
    if decision.limited:
        raise FlowError(
            AccountsError.RATE_LIMITED,
            _("Too many attempts. Try again in %(time)s.") % {"time": humanize(decision.retry_after)},
            retry_after=decision.retry_after,
        )


def humanize(seconds: int) -> str:
    if seconds < 90:
        return _("%(n)d seconds") % {"n": seconds}
    return _("%(n)d minutes") % {"n": (seconds + 59) // 60}
