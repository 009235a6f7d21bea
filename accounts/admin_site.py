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
from django.urls import URLResolver, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from authsuite import context
from authsuite.urls_util import safe_next

#: What the admin's pages answer: a page (GET, and HEAD as a GET) and its forms (POST).
#: Django's admin views answer any other method as a GET: a PUT, a DELETE or a TRACE
#: showed the user list, an account's page, the audit trail.
ADMIN_METHODS = ("GET", "HEAD", "POST")


class SuiteAdminSite(admin.AdminSite):
    # Every page of the site but the sign-in (below) says which methods it takes, and
    # RequestContextMiddleware answers any other a 405 with the suite's error page, before
    # the sign-in, the CSRF check or the view. A view of the project's that takes other
    # methods says so itself (``authsuite.views.require_methods``).
    def get_urls(self):
        from accounts.views.login import LogoutView

        urlpatterns = super().get_urls()
        for pattern in urlpatterns:
            if getattr(pattern, "name", None) == "logout":  # the suite's page: its methods
                setattr(pattern.callback, context.ALLOWED_METHODS,
                        tuple(context.allowed_methods(LogoutView.as_view())))
        _declare_methods(urlpatterns)
        return urlpatterns

    def admin_view(self, view, cacheable=False):
        # The views a ModelAdmin routes itself (an export, a page of its own).
        return _declared(super().admin_view(view, cacheable))

    # never_cache, as Django's own login view: where it sends the browser depends on who
    # is signed in.
    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        # Only a target on this site: the admin login must not be an open redirect.
        target = safe_next(request, request.GET.get("next"),
                           reverse("admin:index", current_app=self.name))
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            return self.signed_in(request, target)
        return redirect_to_login(target, login_url=reverse("accounts:login"))

    # Routed as it is, not through admin_view (it is the way in).
    setattr(login, context.ALLOWED_METHODS, ADMIN_METHODS)

    def signed_in(self, request, target):
        """Where a signed-in staff member who asked for the admin's login page goes."""
        # Not django.shortcuts.redirect(): it takes a target without "/" or "." (a relative
        # ``?next=``) for a URL pattern's name, and raises NoReverseMatch for any other.
        return HttpResponseRedirect(target)

    def logout(self, request, extra_context=None):
        # The suite's sign-out: it ends the tracked session and records it.
        from accounts.views.login import LogoutView

        return LogoutView.as_view()(request)

    @method_decorator(never_cache)
    def password_change(self, request, extra_context=None):
        # The suite's password change: recent authentication, the policy, the rate limits,
        # the other sessions ended, the user told and the change recorded.
        return redirect("accounts:password_change")


def _declared(view):
    if not hasattr(view, context.ALLOWED_METHODS):
        setattr(view, context.ALLOWED_METHODS, ADMIN_METHODS)
    return view


def _declare_methods(patterns) -> None:
    """Declare ``ADMIN_METHODS`` on the views the site and its ModelAdmins route (their
    ``admin_site``/``model_admin`` wrappers, made for this site alone), never on a function
    shared beyond it (the content types' ``view_on_site`` shortcut)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _declare_methods(pattern.url_patterns)
        elif hasattr(pattern.callback, "admin_site") or hasattr(pattern.callback, "model_admin"):
            _declared(pattern.callback)
