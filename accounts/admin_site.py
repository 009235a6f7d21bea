"""An admin site that staff sign in to, out of and change their password on through the suite.

Django's own admin login form calls ``authenticate()`` directly: none of the suite's rate
limits, lockout or login stages apply to it, and its sign-out and password change skip the
tracked session, the other sessions ending and the notice. This site sends all three to the
suite's pages instead. ``accounts.apps.SuiteAdminConfig`` installs it in place of
``django.contrib.admin``; ``mfa.admin_site.MFAAdminSite`` builds on it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse

from authsuite.urls_util import safe_next


class SuiteAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        # Only a target on this site: the admin login must not be an open redirect.
        target = safe_next(request, request.GET.get("next"),
                           reverse("admin:index", current_app=self.name))
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            return self.signed_in(request, target)
        return redirect_to_login(target, login_url=reverse("accounts:login"))

    def signed_in(self, request, target):
        """Where a signed-in staff member who asked for the admin's login page goes."""
        # Not django.shortcuts.redirect(): it takes a target without "/" or "." (a relative
        # ``?next=``) for a URL pattern's name, and raises NoReverseMatch for any other.
        return HttpResponseRedirect(target)

    def logout(self, request, extra_context=None):
        # The suite's sign-out: it ends the tracked session and records it.
        from accounts.views.login import LogoutView

        return LogoutView.as_view()(request)

    def password_change(self, request, extra_context=None):
        # The suite's password change: recent authentication, the policy, the rate limits,
        # the other sessions ended, the user told and the change recorded.
        return redirect("accounts:password_change")
