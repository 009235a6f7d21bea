"""The suite's admin site (``accounts.admin_site.SuiteAdminSite``) with a second factor.

Staff sign in through the suite's pages; when MFA is required for a staff member, or they
have a second factor whatever the rule, the session must also vouch for two factors now
(``accounts.authrecord.mfa_current``: both proven within
``AUTHSUITE_ACCOUNTS_MFA_ASSURANCE_MAX_AGE``) before any admin page opens.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import authrecord
from accounts.admin_site import SuiteAdminSite
from mfa import devices, policy
from mfa.app_settings import app_settings


def has_second_factor(request) -> bool:
    return authrecord.mfa_current(request)


class MFAAdminSite(SuiteAdminSite):
    def needs_second_factor(self, request) -> bool:
        user = request.user
        if not (app_settings.PROTECT_ADMIN and user.is_active and user.is_staff):
            return False
        if has_second_factor(request):
            return False
        # Staff who have a factor prove it, whoever the rule names: a session vouching for
        # the password alone (a trusted browser, one kept signed in past the assurance age)
        # holds no more than a stolen cookie and the password would. Asked once per request
        # (the admin asks again for each page's context).
        must = getattr(request, "_authsuite_admin_must_prove", None)
        if must is None:
            must = policy.is_required(user) or devices.has_mfa(user)
            request._authsuite_admin_must_prove = must
        return must

    def has_permission(self, request):
        return super().has_permission(request) and not self.needs_second_factor(request)

    def signed_in(self, request, target):
        if self.needs_second_factor(request):
            if devices.has_mfa(request.user):
                # A code now counts beside a password proven lately; a session kept signed
                # in longer proves both again, on the reauthentication page.
                page = ("mfa:challenge" if authrecord.first_factor_current(request)
                        else "accounts:reauthenticate")
                return redirect(f"{reverse(page)}?{urlencode({'next': target})}")
            messages.info(request, _("Set up two-step verification to use the admin."))
            return redirect("mfa:totp_setup")
        return super().signed_in(request, target)
