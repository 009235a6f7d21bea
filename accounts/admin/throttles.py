"""The read-only admin of sign-in throttles."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import LoginThrottle
from authsuite.admin_input import ReadOnlyAdminMixin, SafeInputMixin
from authsuite.spelling import address_column


@admin.register(LoginThrottle)
class LoginThrottleAdmin(ReadOnlyAdminMixin, SafeInputMixin, admin.ModelAdmin):
    """Read-only, deletion included: a row deleted is an account unlocked, unrecorded and
    whoever it belongs to. Staff unlock with the user admin's action, which records it and
    acts within their reach (``accounts.users.within_reach``)."""

    # The identifier typed (an address) as staff must read it: a look-alike marked.
    list_display = [address_column(LoginThrottle, "identifier"), "ip", "failures", "lockouts",
                    "locked_until", "last_failure_at", "consecutive_failures"]
    search_fields = ["identifier", "ip"]
    fields = readonly_fields = list_display
