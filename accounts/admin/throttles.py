"""The read-only admin of sign-in throttles."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import LoginThrottle
from authsuite.admin_input import SafeInputMixin


@admin.register(LoginThrottle)
class LoginThrottleAdmin(SafeInputMixin, admin.ModelAdmin):
    list_display = ["identifier", "ip", "failures", "lockouts", "locked_until", "last_failure_at",
                    "consecutive_failures"]
    search_fields = ["identifier", "ip"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
