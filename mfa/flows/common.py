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
from mfa.errors import MFAError


def _email(user) -> str:
    return getattr(user, get_user_model().get_email_field_name(), "") or ""


def _limit(request, user) -> None:
    rates = app_settings.RATE_LIMITS
    decision = ratelimit.check_all(request, group="mfa.challenge", limits={
        "ip": (rates.get("ip"), context.limit_key(context.current().ip)),
        "account": (rates.get("account"), str(user.pk)),
    })
    if decision.limited:
        raise FlowError(MFAError.THROTTLED, _("Too many attempts. Try again in %(t)s.")
                        % {"t": humanize(decision.retry_after)}, retry_after=decision.retry_after)


def _notice(request, user, notice: str, *, subject: str, summary: str, by=None) -> None:
    """Tell the user about a factor change, unless an alert rule does it; ``by``: the staff
    member who made it (the notice then says staff did, not from where)."""
    if notices.is_claimed(notice):
        return
    mail_enqueue(
        template="mfa/email/notice", to=_email(user), user=user,
        context={"subject": str(subject), "summary": str(summary), **notices.origin(by=by)},
    )
