from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.models import normalize_email
from authsuite import context, ratelimit


def rate_limit(request, group: str, *, account: str | None = None) -> None:
    """Count an attempt of ``group`` per client IP (an IPv6 client by its /64, see
    ``context.limit_key``), and per account, and refuse it when over.

    With an ``account_ip`` rate, an attempt counts against the account as a whole only
    while the client is within its own limits (its IP's and its (account, IP) pair's): one
    client, however persistent, adds at most that many to the account's count, and only
    several together can use it up. The IP's and the pair's counters are incremented even
    when one is already over, so a client cannot spread attempts by alternating targets.
    """
    rates = app_settings.RATE_LIMITS.get(group, {})
    ip = context.limit_key(context.current().ip)
    name = f"accounts.{group}"
    decisions = [ratelimit.check(request, group=name, rate=rates.get("ip"), scope="ip", value=ip)]
    if account is not None:
        identifier = normalize_email(account)
        pair_rate = rates.get("account_ip")
        if pair_rate:
            decisions.append(ratelimit.check(request, group=name, rate=pair_rate,
                                             scope="account_ip", value=f"{identifier} {ip}"))
        if not (pair_rate and any(d.limited for d in decisions)):
            decisions.append(ratelimit.check(request, group=name, rate=rates.get("account"),
                                             scope="account", value=identifier))
    decision = max(decisions, key=lambda d: (d.limited, d.retry_after))
    if decision.limited:
        raise FlowError(
            AccountsError.RATE_LIMITED,
            _("Too many attempts. Try again in %(time)s.") % {"time": humanize(decision.retry_after)},
            retry_after=decision.retry_after,
        )


def rate_limit_reset(group: str, *, account: str, ip: str | None = None) -> bool:
    """Forget the per-account count of ``group`` for ``account`` (not its IPs'), or with
    ``ip`` (a ``context.limit_key``) that of the (account, IP) pair; return whether it was
    refusing the account."""
    rates = app_settings.RATE_LIMITS.get(group, {})
    identifier = normalize_email(account)
    if ip is not None:
        return ratelimit.reset(group=f"accounts.{group}", rate=rates.get("account_ip"),
                               scope="account_ip", value=f"{identifier} {ip}")
    return ratelimit.reset(group=f"accounts.{group}", rate=rates.get("account"),
                           scope="account", value=identifier)


def humanize(seconds: int) -> str:
    if seconds < 90:
        return _("%(n)d seconds") % {"n": seconds}
    return _("%(n)d minutes") % {"n": (seconds + 59) // 60}
