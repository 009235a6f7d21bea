"""Password pages: reset by link, change, and the new password a sign-in may require."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from accounts import pipeline, tokens
from accounts.app_settings import app_settings
from accounts.decorators import ReauthenticationRequiredMixin
from accounts.flows import password as password_flows
from accounts.forms import EmailForm, NewPasswordForm, PasswordChangeForm
from accounts.users import user_email
from accounts.views.base import AuthPageMixin, FlowFormView, TokenConfirmView


class PasswordResetView(FlowFormView):
    template_name = "accounts/password_reset.html"
    form_class = EmailForm

    def run(self, form):
        password_flows.password_reset_request(self.request, email=form.cleaned_data["email"])
        return redirect("accounts:password_reset_done")


class PasswordResetDoneView(AuthPageMixin, TemplateView):
    template_name = "accounts/password_reset_done.html"

    def get_context_data(self, **kwargs):
        # A time limit is said where it starts (WCAG 2.2.1), not only in the mail.
        return super().get_context_data(link_lifetime=app_settings.PASSWORD_RESET_TIMEOUT,
                                        **kwargs)


class PasswordResetConfirmView(TokenConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = NewPasswordForm

    link = "password_reset"

    def check(self):
        return password_flows.password_reset_check(self.request, token=self.token)

    def flow_failed(self, form, error):
        # The link was live (the policy refused the password): the page names the account
        # again. A peek, not a check: this POST's one check against the limit is made.
        self.token_row = tokens.token_peek(self.token, purpose=tokens.Purpose.PASSWORD_RESET)
        return super().flow_failed(form, error)

    def run(self, form):
        password_flows.password_reset_complete(
            self.request, token=self.token,
            new_password=form.cleaned_data["new_password"],
        )
        messages.success(self.request, _("Your password is changed. Sign in with it now."))
        return redirect("accounts:login")


class PasswordChangeRequiredView(FlowFormView):
    """Login stage: the pending user must choose a new password."""

    template_name = "accounts/password_change_required.html"
    form_class = NewPasswordForm

    def dispatch(self, request, *args, **kwargs):
        self.state = pipeline.state_get(request)
        stage = pipeline.stage_current(request)
        # Only as the sign-in's current step: never while an earlier stage (MFA) still waits.
        if self.state is None or stage is None or stage.key != "password_change_required":
            return redirect("accounts:login")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        # Named for password managers (a hidden username field): the new password is saved
        # under this account, not offered as a new one of no account.
        return super().get_context_data(account_address=user_email(self.state.user()), **kwargs)

    def run(self, form):
        password_flows.password_required_change(
            self.request, user=self.state.user(), new_password=form.cleaned_data["new_password"]
        )
        result = pipeline.stage_passed(self.request, "password_change_required")
        if result is None:
            return redirect("accounts:login")
        return self.after_login(result)


class PasswordChangeView(LoginRequiredMixin, ReauthenticationRequiredMixin, FlowFormView):
    template_name = "accounts/password_change.html"
    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(),
                "has_password": self.request.user.has_usable_password()}

    def get_context_data(self, **kwargs):
        return super().get_context_data(account_address=user_email(self.request.user), **kwargs)

    def run(self, form):
        password_flows.password_change(
            self.request, user=self.request.user,
            current_password=form.cleaned_data.get("current_password", ""),
            new_password=form.cleaned_data["new_password"],
        )
        messages.success(self.request, _("Your password is changed; your other sessions ended."))
        return redirect("accounts:profile")
