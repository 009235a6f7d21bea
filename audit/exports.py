"""The audit app's sections of the account export (``accounts.exports``), registered in
``AuditConfig.ready`` when ``accounts`` is installed."""

from __future__ import annotations

from accounts.exports import when
from audit.alerts import preferences
from audit.app_settings import app_settings
from audit.models import AlertSent


def activity_section(user) -> dict:
    """The ``security_activity`` section: the account's security activity as its page lists
    it (the user's own events and those staff or the site did to the account, an event
    staff caused without their IP and device), newest first, at most ``EXPORT_EVENTS`` of
    them. ``complete`` says whether that is all the trail holds; older events stay on the
    page's later pages. Two queries, however long the history."""
    from audit.views import activity_for

    limit = app_settings.EXPORT_EVENTS
    rows = activity_for(user, limit + 1)
    return {
        "events": [{**row, "occurred_at": when(row["occurred_at"])} for row in rows[:limit]],
        "limit": limit,
        "complete": len(rows) <= limit,
    }


def alerts_section(user) -> dict:
    """The ``alerts`` section: every alert rule in force and whether it is sent to the
    user, and when each alert was last mailed to them (the rows that throttle repeats)."""
    return {
        "preferences": preferences(user),
        "sent": [{"rule": rule, "sent_at": when(sent_at)}
                 for rule, sent_at in AlertSent.objects.filter(user_id=str(user.pk))
                 .order_by("sent_at", "pk").values_list("rule", "sent_at")],
    }
