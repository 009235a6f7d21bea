"""The account itself: profile, closing it, exporting its data."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from accounts import authrecord
from accounts.decorators import ReauthenticationRequiredMixin
from accounts.flows import account as account_flows
from accounts.forms import CloseAccountForm
from accounts.views.base import AuthPageMixin, FlowFormView


class ProfileView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "accounts/profile.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["record"] = authrecord.record_public(self.request)
        return context


class AccountCloseView(LoginRequiredMixin, ReauthenticationRequiredMixin, FlowFormView):
    template_name = "accounts/close.html"
    form_class = CloseAccountForm

    def run(self, form):
        account_flows.account_close(self.request, user=self.request.user)
        messages.info(self.request, _("Your account is closed."))
        return redirect("accounts:login")


class AccountExportView(LoginRequiredMixin, AuthPageMixin, View):
    def get(self, request):
        data = account_flows.account_export(user=request.user)
        response = HttpResponse(
            json.dumps(data, indent=2), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="account.json"'
        return response
