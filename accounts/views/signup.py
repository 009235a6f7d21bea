"""Sign-up and the page that says a verification link was sent."""

from __future__ import annotations

from django.shortcuts import redirect
from django.views.decorators.debug import sensitive_variables
from django.views.generic import TemplateView

from accounts.app_settings import app_settings
from accounts.flows.signup import signup
from accounts.forms import SignupForm
from accounts.views.base import AuthPageMixin, FlowFormView


class SignupView(FlowFormView):
    template_name = "accounts/signup.html"
    form_class = SignupForm

    def dispatch(self, request, *args, **kwargs):
        if not app_settings.SIGNUP_OPEN:
            self.template_name = "accounts/signup_closed.html"
            return self.render_to_response({}, status=403)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["honeypot_field"] = app_settings.SIGNUP_HONEYPOT_FIELD
        return context

    @sensitive_variables("data")
    def run(self, form):
        data = form.cleaned_data
        result = signup(
            self.request, email=data["email"], password=data["password"], name=data["name"],
            honeypot=form.honeypot_value(), next_url=self.next_url(),
        )
        if result.login is not None:
            return self.after_login(result.login)
        return redirect("accounts:verification_sent")


class VerificationSentView(AuthPageMixin, TemplateView):
    template_name = "accounts/verification_sent.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            link_lifetime=app_settings.EMAIL_VERIFICATION_TIMEOUT, **kwargs)
