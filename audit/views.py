"""The user's own security activity: /accounts/security/ and its API."""

from __future__ import annotations

import json

from django.contrib.auth.mixins import LoginRequiredMixin
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from audit.app_settings import app_settings
from audit.models import Event
from authsuite.api.views import SuiteAPIView
from authsuite.useragent import device_name

LABELS = {
    "accounts.login.succeeded": "Signed in",
    "accounts.login.failed": "Failed sign-in",
    "accounts.logout": "Signed out",
    "accounts.password.changed": "Password changed",
    "accounts.password.reset_requested": "Password reset requested",
    "accounts.password.reset_completed": "Password reset",
    "accounts.email.added": "Email address added",
    "accounts.email.verified": "Email address verified",
    "accounts.email.removed": "Email address removed",
    "accounts.email.changed": "Sign-in address changed",
    "accounts.magic_link.requested": "Sign-in link requested",
    "accounts.magic_link.used": "Sign-in link used",
    "accounts.session.ended": "Session ended",
    "accounts.account.locked": "Sign-in paused after failures",
    "accounts.account.unlocked": "Sign-in unlocked by staff",
    "accounts.reauthenticated": "Identity confirmed",
    "accounts.signup": "Account created",
    "audit.alert.sent": "Security alert sent",
}


def activity_for(user, limit: int, before: int | None = None) -> list[dict]:
    events = Event.objects.filter(actor_id=str(user.pk)).only(
        "id", "occurred_at", "action", "outcome", "ip", "user_agent", "data"
    )
    if before:
        events = events.filter(pk__lt=before)
    return [
        {
            "id": e.pk, "occurred_at": e.occurred_at, "action": e.action,
            "label": LABELS.get(e.action, e.action), "outcome": e.outcome,
            "ip": e.ip or None, "device": device_name(e.user_agent),
            "method": json.loads(e.data or "{}").get("method"),
        }
        for e in events.order_by("-pk")[:limit]
    ]


@method_decorator(never_cache, name="dispatch")
class SecurityActivityView(LoginRequiredMixin, TemplateView):
    template_name = "audit/security.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        before = self.request.GET.get("before", "")
        limit = app_settings.SECURITY_PAGE_SIZE
        context["events"] = activity_for(self.request.user, limit,
                                         int(before) if before.isdigit() else None)
        context["older"] = context["events"][-1]["id"] if len(context["events"]) == limit else None
        return context


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    label = serializers.CharField()
    outcome = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    device = serializers.CharField()
    method = serializers.CharField(allow_null=True)


@method_decorator(never_cache, name="dispatch")
class SecurityActivityAPIView(SuiteAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ActivitySerializer(many=True),
                   summary="Your recent security activity (newest first; ?before=<id> pages)")
    def get(self, request):
        before = request.query_params.get("before", "")
        rows = activity_for(request.user, app_settings.SECURITY_PAGE_SIZE,
                            int(before) if before.isdigit() and len(before) < 19 else None)
        return Response(ActivitySerializer(rows, many=True).data)
