"""Which app sends a security notice.

An app that mails a notice of its own (accounts: "your password was changed") asks
:func:`is_claimed` first. The audit app claims the notices its alert rules send, so the
user gets one email, sent by the rule, and the alert leaves an audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.utils import timezone

_claimers: list[Callable[[str], bool]] = []


def register_claimer(claimer: Callable[[str], bool]) -> None:
    if claimer not in _claimers:
        _claimers.append(claimer)


def is_claimed(notice: str) -> bool:
    return any(claimer(notice) for claimer in _claimers)


def origin(*, by=None) -> dict:
    """Where the change a notice tells of came from, for its template: the device and IP of
    the current request, or with ``by`` (staff acting on the account) only ``by_staff``: the
    request is the staff member's, and their IP and device are not the user's to see (the
    audit trail keeps them)."""
    if by is not None:
        return {"by_staff": True}
    from authsuite import context
    from authsuite.useragent import device_label

    ctx = context.current()
    return {"device": device_label(ctx.user_agent), "ip": ctx.ip or "unknown"}


def utc_text(moment: datetime) -> str:
    """``moment`` as mails write it, in UTC: ``2026-01-31 12:00 UTC``. Under ``USE_TZ =
    False`` Django's clock and the database give naive datetimes in ``TIME_ZONE``, which
    written as they are would be that zone's time called UTC."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
