"""The account's addresses: list, add, make primary, remove, resend, and verification by link."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from accounts import authrecord, tokens
from accounts.decorators import reauthentication_redirect
from accounts.errors import FlowError
from accounts.flows import email as email_flows
from accounts.forms import NewEmailForm, checked_password_field
from accounts.models import EmailAddress
from accounts.views.base import FlowFormView, TokenConfirmView, posted_id


class VerifyForm(forms.Form):
    """The confirmation button, and the account's password when the browser is not signed
    in as the account (``email_flows.verification_needs_password``)."""

    password = checked_password_field(_("Password"), required=False)


class EmailVerifyView(TokenConfirmView):
    template_name = "accounts/email_verify.html"
    form_class = VerifyForm

    link = "verify_email"

    def check(self):
        found = email_flows.email_verify_check(self.request, token=self.token)
        # Said when the link is opened, not after the button: no button would help.
        email_flows.verification_sign_in_required(self.request, found)
        return found

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if getattr(self, "token_row", None) is None:  # a POST shown again with its errors
            self.token_row = tokens.token_peek(self.token, purpose=tokens.Purpose.VERIFY_EMAIL)
        context["needs_password"] = self.token_row is not None and (
            email_flows.verification_needs_password(self.request, self.token_row.user))
        return context

    def run(self, form):
        email_flows.email_verify(self.request, token=self.token,
                                 password=form.cleaned_data["password"])
        messages.success(self.request, _("Your email address is verified."))
        if self.request.user.is_authenticated:
            return redirect("accounts:email")
        return redirect("accounts:login")


class EmailView(LoginRequiredMixin, FlowFormView):
    """List addresses and add one; actions on an address are POSTs with ``action``."""

    template_name = "accounts/email.html"
    form_class = NewEmailForm
    sensitive_actions = {"primary"}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["addresses"] = EmailAddress.objects.filter(user=self.request.user)
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "add")
        if action == "add":
            return super().post(request, *args, **kwargs)
        if action in self.sensitive_actions and not authrecord.is_recent(request):
            return reauthentication_redirect(request)
        address_id = posted_id(request, "address")
        if address_id is None:
            messages.error(request, _("Choose an address."))
            return redirect("accounts:email")
        try:
            if action == "primary":
                email_flows.email_make_primary(request, user=request.user, address_id=address_id)
                messages.success(request, _("Your sign-in address is changed."))
            elif action == "remove":
                email_flows.email_remove(request, user=request.user, address_id=address_id)
                messages.success(request, _("The address is removed."))
            elif action == "resend":
                address = EmailAddress.objects.filter(user=request.user, pk=address_id,
                                                      verified=False).first()
                if address is None:
                    messages.error(request, _("No such unverified address."))
                else:
                    email_flows.verification_resend(request, user=request.user, email=address.email)
                    messages.success(request, _("We sent a new verification link."))
            else:
                messages.error(request, _("Unknown action."))
        except FlowError as error:
            messages.error(request, error.message)
            if error.retry_after:
                # The page itself, with the message: a 429 says so to the browser, a redirect
                # would not.
                response = self.render_to_response(self.get_context_data(form=self.form_class()))
                response.status_code = 429
                response["Retry-After"] = str(error.retry_after)
                return response
        return redirect("accounts:email")

    def run(self, form):
        # Its own address again is a FlowError on the field (email_already_added).
        email_flows.email_add(self.request, user=self.request.user,
                              email=form.cleaned_data["email"])
        messages.success(
            self.request,
            _("We sent a verification link to %(email)s.") % {"email": form.cleaned_data["email"]},
        )
        return redirect("accounts:email")
