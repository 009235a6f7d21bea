"""Evaluating an event against the rules and sending the alerts, throttled."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from audit.alerts.config import rules
from audit.alerts.preferences import opted_out
from audit.app_settings import app_settings
from audit.models import AlertSent, Event
from authsuite import notices
from authsuite.app_settings import app_settings as core_settings
from authsuite.context import current_request
from authsuite.outbox import mail_enqueue
from authsuite.urls_util import absolute_url
from authsuite.useragent import device_label

if TYPE_CHECKING:
    from audit.alerts import AlertRule


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


def _links(rule: AlertRule) -> dict:
    """The absolute links an alert shows: the security page and, for an alert the user may
    turn off, the page that does it; the front end's where ``FRONTEND_URLS`` names them
    (``security``, ``alert_preferences``). None where no origin is known (no
    AUTHSUITE_BASE_URL and no request: an event recorded by a worker), or the project does
    not serve them: the text then names the page in words."""
    from accounts.app_settings import app_settings as accounts_settings

    request = current_request()
    known = bool(core_settings.BASE_URL or request is not None)
    pages = {"security_url": ("security", "audit:security")}
    if not rule.critical:
        pages["preferences_url"] = ("alert_preferences", "audit:alert_preferences")
    links = {}
    for key, (page, name) in pages.items():
        if frontend := accounts_settings.FRONTEND_URLS.get(page):
            links[key] = frontend
            continue
        if not known:
            continue
        try:
            links[key] = absolute_url(request, reverse(name))
        except NoReverseMatch:
            pass
    return links


def _where(event: Event, user) -> dict:
    """The device and IP the change came from; for a change staff (or the site) made to the
    account, only that: their request's IP and device are not the user's to see (the trail
    and the admin keep them), as on the security page."""
    if event.actor_id != str(user.pk):
        return {"by_staff": True}
    return {"ip": event.ip or "unknown", "device": device_label(event.user_agent)}


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
    where = _where(event, user)
    context = {
        # Text, not lazy translations: the row's context is stored as JSON.
        "title": str(rule.subject), "summary": str(rule.summary), "advice": str(rule.advice),
        "when": notices.utc_text(event.occurred_at), "event_id": event.pk,
        **where, **_links(rule), **rule.context(event),
    }
    recipients = rule.recipients(event, user)
    for address in recipients:
        mail_enqueue(template="audit/email/alert", to=address, user=user, context=context)
    data = {"rule": rule.name, "recipients": len(recipients)}
    if where.get("by_staff"):
        # The alert of a change staff made is sent from their request: the owner's security
        # page shows it as staff's, without that request's IP and device.
        data["by_staff"] = True
    recorder.write(action=SENT_ACTION, user=user,
                   target=("audit.event", str(event.pk), event.action), data=data)
