"""What the MFA flows share: the user's address, the notice of a change, the rate limits
on codes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from accounts.errors import FlowError
from accounts.flows.limits import humanize
from authsuite import context, notices, ratelimit
from authsuite.outbox import mail_enqueue
from mfa.app_settings import app_settings
from mfa.devices import DEVICE_MODELS
from mfa.errors import MFAError


def address_of(user) -> str:
    return getattr(user, get_user_model().get_email_field_name(), "") or ""


CODES_GROUP = "mfa.challenge"  # the rate limits on codes typed (authsuite.ratelimit)


def codes_limit(request, user) -> None:
    rates = app_settings.RATE_LIMITS
    decision = ratelimit.check_all(request, group=CODES_GROUP, limits={
        "ip": (rates.get("ip"), context.limit_key(context.current().ip)),
        "account": (rates.get("account"), str(user.pk)),
    })
    if decision.limited:
        raise FlowError(MFAError.THROTTLED, _("Too many attempts. Try again in %(t)s.")
                        % {"t": humanize(decision.retry_after)}, retry_after=decision.retry_after)


def failures_forget(user) -> bool:
    """Staff unlocked ``user`` (``accounts.lockout.unlock_register``): forget the wrong codes
    in a row on their devices, so the back-off they set ends, and the account's count of
    codes typed; whether there was any of either (failures, or the count refusing them).

    The IP's count is left as it is: the same IP may be guessing at other accounts.
    """
    backed_off = sum(
        model.objects.filter(user=user, throttling_failure_count__gt=0)
        .update(throttling_failure_count=0, throttling_failure_timestamp=None)
        for model in DEVICE_MODELS)
    limited = ratelimit.reset(group=CODES_GROUP, rate=app_settings.RATE_LIMITS.get("account"),
                              scope="account", value=str(user.pk))
    return bool(backed_off) or limited


def factor_notice(request, user, notice: str, *, subject: str, summary: str, by=None) -> None:
    """Tell the user about a factor change, unless an alert rule does it; ``by``: the staff
    member who made it (the notice then says staff did, not from where)."""
    if notices.is_claimed(notice):
        return
    mail_enqueue(
        template="mfa/email/notice", to=address_of(user), user=user,
        context={"subject": str(subject), "summary": str(summary), **notices.origin(by=by)},
    )
