"""The read-only admin of sign-in throttles."""

from __future__ import annotations

import ipaddress

from django.contrib import admin
from django.db.models import Q

from accounts.models import LoginThrottle, normalize_email
from authsuite.admin_input import ReadOnlyAdminMixin, SafeInputMixin
from authsuite.admin_lists import EstimatedCountMixin, WholeTermSearchMixin
from authsuite.spelling import address_column


@admin.register(LoginThrottle)
class LoginThrottleAdmin(EstimatedCountMixin, ReadOnlyAdminMixin, SafeInputMixin,
                         WholeTermSearchMixin, admin.ModelAdmin):
    """Read-only, deletion included: a row deleted is an account unlocked, unrecorded and
    whoever it belongs to. Staff unlock with the user admin's action, which records it and
    acts within their reach (``accounts.users.within_reach``)."""

    # The identifier typed (an address) as staff must read it: a look-alike marked.
    list_display = [address_column(LoginThrottle, "identifier"), "ip", "failures", "lockouts",
                    "locked_until", "last_failure_at", "consecutive_failures"]
    # A whole address (on the identifier's index) or IP.
    search_fields = ["identifier__exact", "ip__exact"]
    fields = readonly_fields = list_display

    def search_filter(self, term: str) -> Q:
        if term.startswith("device:") or _is_ip(term):
            return Q(ip=term)
        return Q(identifier__in={term, normalize_email(term)})


def _is_ip(term: str) -> bool:
    try:
        ipaddress.ip_address(term)
    except ValueError:
        return False
    return True
