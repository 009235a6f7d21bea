"""The user's own security activity: /accounts/security/ and its API."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.response import Response

from accounts.api.serializers import StrictBooleanField, StrictIntegerField, StringField
from accounts.api.views.base import IsRecentlyAuthenticated
from accounts.decorators import ReauthenticationRequiredMixin
from audit import alerts
from audit.app_settings import app_settings
from audit.errors import AuditError
from audit.forms import AlertPreferencesForm
from audit.models import Event
from audit.paging import keyset
from authsuite.api.schema import error, extend_schema
from authsuite.api.views import SuiteAPIView, api_error
from authsuite.useragent import device_label
from authsuite.views import PageMethodsMixin

#: What the security page calls each action; one the suite does not name (a project's
#: own) is shown as it is recorded.
LABELS = {
    "accounts.login.succeeded": gettext_lazy("Signed in"),
    "accounts.login.failed": gettext_lazy("Failed sign-in"),
    "accounts.logout": gettext_lazy("Signed out"),
    "accounts.password.changed": gettext_lazy("Password changed"),
    "accounts.password.reset_requested": gettext_lazy("Password reset requested"),
    "accounts.password.change_required": gettext_lazy("New password required by staff"),
    "accounts.password.reset_completed": gettext_lazy("Password reset"),
    "accounts.email.added": gettext_lazy("Email address added"),
    "accounts.email.verified": gettext_lazy("Email address verified"),
    "accounts.email.removed": gettext_lazy("Email address removed"),
    "accounts.email.changed": gettext_lazy("Sign-in address changed"),
    "accounts.magic_link.requested": gettext_lazy("Sign-in link requested"),
    "accounts.magic_link.used": gettext_lazy("Sign-in link used"),
    "accounts.link.withheld": gettext_lazy("Link asked for, none sent"),
    "accounts.session.ended": gettext_lazy("Session ended"),
    "accounts.account.locked": gettext_lazy("Sign-in paused after failures"),
    "accounts.account.unlocked": gettext_lazy("Sign-in unlocked by staff"),
    "accounts.account.deactivated": gettext_lazy("Account disabled by staff"),
    "accounts.account.reactivated": gettext_lazy("Account enabled again by staff"),
    "accounts.reauthenticated": gettext_lazy("Identity confirmed"),
    "accounts.signup": gettext_lazy("Account created"),
    "accounts.signup.address_taken": gettext_lazy("Sign-up with your address refused"),
    "accounts.account.closed": gettext_lazy("Account closed"),
    "audit.alert.sent": gettext_lazy("Security alert sent"),
    "audit.alert.preference_changed": gettext_lazy("Security alert setting changed"),
    "audit.trail.exported": gettext_lazy("Audit trail exported"),
    "auth.login.succeeded": gettext_lazy("Signed in"),
    "auth.login.failed": gettext_lazy("Failed sign-in"),
    "auth.logout": gettext_lazy("Signed out"),
    "mfa.reset": gettext_lazy("Two-step verification reset by staff"),
    "mfa.totp.added": gettext_lazy("Authenticator app added"),
    "mfa.totp.removed": gettext_lazy("Authenticator app removed"),
    "mfa.recovery_codes.generated": gettext_lazy("Recovery codes created"),
    "mfa.recovery_code.used": gettext_lazy("Recovery code used"),
    "mfa.challenge.succeeded": gettext_lazy("Second step passed"),
    "mfa.challenge.failed": gettext_lazy("Second step failed"),
    "mfa.challenge.locked": gettext_lazy("Second step paused after failures"),
    "mfa.browser.trusted": gettext_lazy("Browser trusted"),
    "mfa.browser.untrusted": gettext_lazy("Trusted browsers forgotten"),
    "mfa.disabled": gettext_lazy("Two-step verification turned off"),
    "passkeys.added": gettext_lazy("Passkey added"),
    "passkeys.renamed": gettext_lazy("Passkey renamed"),
    "passkeys.used": gettext_lazy("Passkey used"),
    "passkeys.failed": gettext_lazy("Passkey not accepted"),
    "passkeys.clone_detected": gettext_lazy("Passkey disabled: it looked copied"),
    "passkeys.removed": gettext_lazy("Passkey removed"),
}


#: Things staff (or the system) did to an account, shown to its owner too.
ABOUT_YOU = (
    "accounts.account.unlocked", "accounts.account.deactivated",
    "accounts.account.reactivated", "mfa.reset",
    "passkeys.removed", "accounts.session.ended", "accounts.password.reset_requested",
    "accounts.password.change_required", "mfa.browser.untrusted", "mfa.disabled",
    "accounts.email.added", "accounts.email.verified", "accounts.email.changed",
    "accounts.email.removed",
)

#: Why a session ends when staff or the site end it (the admin's action; the account
#: deactivated, by the admin's action or form or by the project's own code).
ENDED_BY_SITE = ("staff", "deactivated")


def by_site(event: Event, user, data: dict) -> bool:
    """Whether staff (or the site itself) did this to ``user``'s account rather than the user.

    The event's IP and user agent are then those of the staff member's request: the user is
    told staff did it, never from where or on what (the trail and the admin keep them).
    """
    if event.actor_id != str(user.pk):
        return True
    if event.action == alerts.SENT_ACTION:
        return bool(data.get("by_staff"))  # the alert of a change staff made
    return event.action == "accounts.session.ended" and data.get("reason") in ENDED_BY_SITE


def activity_for(user, limit: int, before: int | None = None) -> list[dict]:
    """The user's own events and those done to their account, newest first.

    Two index-ordered queries merged here rather than one OR, so a page costs the same
    however long the user's history is.
    """
    fields = ("id", "occurred_at", "actor_id", "action", "outcome", "ip", "user_agent", "data")
    own = Event.objects.filter(actor_id=str(user.pk))
    about = Event.objects.filter(target_type="user", target_id=str(user.pk),
                                 action__in=ABOUT_YOU).exclude(actor_id=str(user.pk))
    if before:
        own, about = own.filter(pk__lt=before), about.filter(pk__lt=before)
    events = [*own.only(*fields).order_by("-pk")[:limit],
              *about.only(*fields).order_by("-pk")[:limit]]
    events.sort(key=lambda e: e.pk, reverse=True)
    return [_row(e, user) for e in events[:limit]]


def _row(event: Event, user) -> dict:
    data = json.loads(event.data or "{}")
    staff = by_site(event, user, data)
    return {
        "id": event.pk, "occurred_at": event.occurred_at, "action": event.action,
        "label": str(LABELS.get(event.action, event.action)), "outcome": event.outcome,
        "outcome_label": _outcome_label(event.outcome),
        "ip": None if staff else event.ip or None,
        "device": device_label(event.user_agent) if event.user_agent and not staff else "—",
        "method": data.get("method"), "by": "staff" if staff else "you",
    }


def _outcome_label(outcome: str) -> str:
    """``outcome`` as the page shows it, in the reader's language."""
    try:
        return str(Event.Outcome(outcome).label)
    except ValueError:
        return outcome


@method_decorator(never_cache, name="dispatch")
class SecurityActivityView(LoginRequiredMixin, PageMethodsMixin, TemplateView):
    template_name = "audit/security.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        limit = app_settings.SECURITY_PAGE_SIZE
        context["events"] = activity_for(self.request.user, limit,
                                         keyset(self.request.GET.get("before")))
        context["older"] = context["events"][-1]["id"] if len(context["events"]) == limit else None
        context["alerts"] = alerts.preferences(self.request.user)
        context.setdefault("alert_form", AlertPreferencesForm())
        return context


@method_decorator(never_cache, name="dispatch")
class AlertPreferencesView(ReauthenticationRequiredMixin, PageMethodsMixin, View):
    """Turn optional alerts on or off (a recent authentication first: someone who took over
    a session must not be able to silence the alerts about it)."""

    def get(self, request):
        return redirect("audit:security")

    def post(self, request):
        form = AlertPreferencesForm(request.POST)
        if not form.is_valid():
            # The security page again, with the form's error and the settings as they are;
            # a 200, as every other page answers a form with errors.
            page = SecurityActivityView(extra_context={"alert_form": form})
            page.setup(request)
            return page.get(request)
        wanted = set(form.cleaned_data["enabled"])
        current = {p["rule"]: p["enabled"] for p in alerts.preferences(request.user)}
        changed = False
        for rule in alerts.optional_rules():
            enabled = rule.name in wanted
            if enabled == current[rule.name]:
                continue
            alerts.preference_set(request, user=request.user, rule_name=rule.name,
                                  enabled=enabled)
            changed = True
        if changed:
            messages.success(request, _("Your alert settings are saved."))
        return redirect("audit:security")


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    label = serializers.CharField()
    outcome = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    device = serializers.CharField()
    method = serializers.CharField(allow_null=True)
    by = serializers.ChoiceField(
        choices=["you", "staff"],
        help_text="`staff`: staff (or the site) did it to your account; `ip` and `device` are "
                  "then not given.")


class AlertRuleField(StringField):
    """The name of an alert rule in force. Any text passes the field: the flow answers
    another name with ``alert_unknown``."""


class AlertRuleFieldExtension(OpenApiSerializerFieldExtension):
    """The schema lists the rules in force (``AUTHSUITE_AUDIT_ALERT_RULES``): a client
    can only name one of them. The document is built again when the settings change."""

    target_class = AlertRuleField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": [rule.name for rule in alerts.rules()]}


class AlertPreferenceSerializer(serializers.Serializer):
    rule = AlertRuleField()
    subject = serializers.CharField(read_only=True)
    critical = serializers.BooleanField(read_only=True)
    enabled = serializers.BooleanField()


class AlertChangeSerializer(serializers.Serializer):
    rule = AlertRuleField(max_length=200)
    enabled = StrictBooleanField()


@method_decorator(never_cache, name="dispatch")
class AlertPreferencesAPIView(SuiteAPIView):
    """Which security alerts the user receives; optional ones can be turned off."""

    def get_permissions(self):
        # HEAD and OPTIONS read what GET reads: a session, no recent sign-in.
        if self.request.method in SAFE_METHODS:
            return [IsAuthenticated()]
        return [IsAuthenticated(), IsRecentlyAuthenticated()]

    @extend_schema(responses=AlertPreferenceSerializer(many=True),
                   summary="Your security alerts and whether each is sent")
    def get(self, request):
        return Response(AlertPreferenceSerializer(alerts.preferences(request.user),
                                                  many=True).data)

    @extend_schema(request=AlertChangeSerializer, responses={
                       200: AlertPreferenceSerializer(many=True),
                       400: error("No alert rule in force has that name (`alert_unknown`), or "
                                  "the alert is critical and cannot be turned off "
                                  "(`alert_required`).")},
                   summary="Turn an optional alert on or off (recent authentication required)",
                   description="Errors: `alert_unknown` (no such rule), `alert_required` "
                               "(a critical alert cannot be turned off).")
    def post(self, request):
        serializer = AlertChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            alerts.preference_set(request._request, user=request.user, rule_name=data["rule"],
                                  enabled=data["enabled"])
        except LookupError:
            raise api_error(AuditError.ALERT_UNKNOWN, _("There is no such alert."),
                            field="rule") from None
        except PermissionError:
            raise api_error(AuditError.ALERT_REQUIRED, _("This alert is always sent: it is "
                                                          "about your account's security and "
                                                          "cannot be turned off."),
                            field="rule") from None
        return Response(AlertPreferenceSerializer(alerts.preferences(request.user),
                                                  many=True).data)


class ActivityQuerySerializer(serializers.Serializer):
    before = StrictIntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                help_text="The next page: events older than this id.")


@method_decorator(never_cache, name="dispatch")
class SecurityActivityAPIView(SuiteAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[ActivityQuerySerializer],
                   responses={200: ActivitySerializer(many=True),
                              400: error("`before` is not an event id (`invalid`), or the "
                                              "request cannot be read (`malformed_request`).")},
                   summary="Your recent security activity (newest first; ?before=<id> pages)")
    def get(self, request):
        query = ActivityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = activity_for(request.user, app_settings.SECURITY_PAGE_SIZE,
                            query.validated_data.get("before"))
        return Response(ActivitySerializer(rows, many=True).data)
