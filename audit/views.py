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
from audit.paging import keyset
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
    "auth.login.succeeded": "Signed in",
    "auth.login.failed": "Failed sign-in",
    "auth.logout": "Signed out",
    "mfa.reset": "Two-step verification reset by staff",
    "passkeys.removed": "Passkey removed",
}


#: Things staff (or the system) did to an account, shown to its owner too.
ABOUT_YOU = (
    "accounts.account.unlocked", "accounts.account.deactivated", "mfa.reset",
    "passkeys.removed",
)


def activity_for(user, limit: int, before: int | None = None) -> list[dict]:
    """The user's own events and those done to their account, newest first.

    Two index-ordered queries merged here rather than one OR, so a page costs the same
    however long the user's history is.
    """
    fields = ("id", "occurred_at", "action", "outcome", "ip", "user_agent", "data")
    own = Event.objects.filter(actor_id=str(user.pk))
    about = Event.objects.filter(target_type="user", target_id=str(user.pk),
                                 action__in=ABOUT_YOU).exclude(actor_id=str(user.pk))
    if before:
        own, about = own.filter(pk__lt=before), about.filter(pk__lt=before)
    events = [*own.only(*fields).order_by("-pk")[:limit],
              *about.only(*fields).order_by("-pk")[:limit]]
    events.sort(key=lambda e: e.pk, reverse=True)
    return [
        {
            "id": e.pk, "occurred_at": e.occurred_at, "action": e.action,
            "label": LABELS.get(e.action, e.action), "outcome": e.outcome,
            "ip": e.ip or None, "device": device_name(e.user_agent) if e.user_agent else "—",
            "method": json.loads(e.data or "{}").get("method"),
        }
        for e in events[:limit]
    ]


@method_decorator(never_cache, name="dispatch")
class SecurityActivityView(LoginRequiredMixin, TemplateView):
    template_name = "audit/security.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        limit = app_settings.SECURITY_PAGE_SIZE
        context["events"] = activity_for(self.request.user, limit,
                                         keyset(self.request.GET.get("before")))
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
        rows = activity_for(request.user, app_settings.SECURITY_PAGE_SIZE,
                            keyset(request.query_params.get("before")))
        return Response(ActivitySerializer(rows, many=True).data)
