"""An admin site that staff reach only through the suite's sign-in, with a second factor.

The admin's own login form is replaced by the suite's (rate limits, lockout, the whole
login pipeline); when MFA is required for a staff member, the session must also carry a
second factor (``mfa`` in its amr) before any admin page opens.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import authrecord
from authsuite.urls_util import safe_next
from mfa import devices, policy
from mfa.app_settings import app_settings


def has_second_factor(request) -> bool:
    record = authrecord.record_get(request) or {}
    return "mfa" in record.get("amr", [])


class MFAAdminSite(admin.AdminSite):
    def needs_second_factor(self, request) -> bool:
        user = request.user
        return (app_settings.PROTECT_ADMIN and user.is_active and user.is_staff
                and policy.is_required(user) and not has_second_factor(request))

    def has_permission(self, request):
        return super().has_permission(request) and not self.needs_second_factor(request)

    def login(self, request, extra_context=None):
        # Only a target on this site: the admin login must not be an open redirect.
        target = safe_next(request, request.GET.get("next"),
                           reverse("admin:index", current_app=self.name))
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            if self.needs_second_factor(request):
                if devices.has_mfa(user):
                    return redirect(f"{reverse('mfa:challenge')}?{urlencode({'next': target})}")
                messages.info(request, _("Set up two-step verification to use the admin."))
                return redirect("mfa:totp_setup")
            return redirect(target)
        return redirect_to_login(target, login_url=reverse("accounts:login"))

    def logout(self, request, extra_context=None):
        # The suite's sign-out: it ends the tracked session and records it.
        from accounts.views import LogoutView

        return LogoutView.as_view()(request)

    def password_change(self, request, extra_context=None):
        # The suite's password change: recent authentication, the policy, the rate limits,
        # the other sessions ended, the user told and the change recorded.
        return redirect("accounts:password_change")
