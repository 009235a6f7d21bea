"""Signing in and out: the password page, the sign-in link, sign-out."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from accounts.app_settings import app_settings
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from accounts.forms import EmailForm, LoginForm
from accounts.views.base import AuthPageMixin, ConfirmForm, FlowFormView, TokenConfirmView


class LoginView(FlowFormView):
    template_name = "accounts/login.html"
    form_class = LoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["magic_link_enabled"] = app_settings.MAGIC_LINK_ENABLED
        context["signup_open"] = app_settings.SIGNUP_OPEN
        return context

    def run(self, form):
        result = login_flows.password_login(
            self.request, email=form.cleaned_data["email"],
            password=form.cleaned_data["password"], remember=form.cleaned_data["remember"],
            next_url=self.next_url(),
        )
        return self.after_login(result)


class LogoutView(AuthPageMixin, TemplateView):
    """GET asks for confirmation; only POST signs out (no sign-out by a stray image tag)."""

    template_name = "accounts/logout.html"

    def post(self, request, *args, **kwargs):
        target = self.next_url() or app_settings.LOGOUT_REDIRECT_URL
        login_flows.logout(request)
        messages.info(request, _("You have signed out."))
        return HttpResponseRedirect(target)


class MagicLinkRequestView(FlowFormView):
    template_name = "accounts/magic_link.html"
    form_class = EmailForm

    def run(self, form):
        magic_flows.magic_link_request(self.request, email=form.cleaned_data["email"])
        return self.render_to_response(
            self.get_context_data(form=self.get_form_class()(), sent_to=form.cleaned_data["email"],
                                  link_lifetime=app_settings.MAGIC_LINK_TIMEOUT)
        )


class MagicLinkConfirmView(TokenConfirmView):
    template_name = "accounts/magic_link_confirm.html"
    form_class = ConfirmForm

    link = "magic_link"

    def check(self):
        return magic_flows.magic_link_check(self.request, token=self.token)

    def run(self, form):
        result = magic_flows.magic_link_login(
            self.request, token=self.token, next_url=self.next_url()
        )
        return self.after_login(result)
