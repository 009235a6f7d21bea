"""Reauthentication: the password again, or a link emailed to this browser."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import authrecord, links
from accounts.app_settings import app_settings
from accounts.decorators import requested_max_age
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from accounts.forms import PasswordForm
from accounts.users import user_email
from accounts.views.base import ConfirmForm, FlowFormView, TokenConfirmView
from authsuite.urls_util import safe_next

REAUTH_NEXT_KEY = "_authsuite_reauth_next"


class ReauthenticateView(LoginRequiredMixin, FlowFormView):
    """The password, or for an account without one, a link emailed to this browser."""

    template_name = "accounts/reauthenticate.html"
    form_class = PasswordForm  # ConfirmForm for an account without a password

    def has_password(self) -> bool:
        return self.request.user.has_usable_password()

    def get_form_class(self):
        return PasswordForm if self.has_password() else ConfirmForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["has_password"] = self.has_password()
        context["account_address"] = user_email(self.request.user)
        context["links_enabled"] = app_settings.MAGIC_LINK_ENABLED
        # Judged by the age the view that sent the user here demands, when it is shorter
        # than the default: by the default, that view would send them back for a factor
        # this page did not ask for.
        context["max_age"] = max_age = requested_max_age(self.request)
        # The password (or link) was just confirmed; a session that proved two factors
        # proves the second again (the page's slots offer the ways: a code, a passkey).
        context["second_factor_due"] = authrecord.second_factor_due(self.request, max_age)
        # ... unless the account has none it can prove (only a passkey flagged as cloned):
        # the page says so and who can help, instead of offering what will be refused.
        context["second_factor_unavailable"] = (
            context["second_factor_due"]
            and authrecord.second_factor_unusable(self.request))
        return context

    def run(self, form):
        if not self.has_password():
            email = magic_flows.reauthentication_link_request(self.request)
            self.request.session[REAUTH_NEXT_KEY] = self.next_url()
            messages.success(self.request, _(
                "We sent a link to %(email)s. Open it in this browser to continue.")
                % {"email": email})
            return redirect("accounts:reauthenticate")
        login_flows.reauthenticate(self.request, password=form.cleaned_data["password"])
        return HttpResponseRedirect(safe_next(self.request, self.next_url(), reverse("accounts:profile")))


class ReauthenticateConfirmView(TokenConfirmView):
    """The emailed reauthentication link: usable only where it was asked for, signed in."""

    template_name = "accounts/reauthenticate_confirm.html"
    form_class = ConfirmForm

    link = "reauthenticate"

    def check(self):
        return magic_flows.reauthentication_link_check(self.request, token=self.token)

    def run(self, form):
        magic_flows.reauthenticate_by_link(self.request, token=self.token)
        links.forget(self.request, self.link)
        target = self.request.session.pop(REAUTH_NEXT_KEY, "")
        return HttpResponseRedirect(safe_next(self.request, target, reverse("accounts:profile")))
