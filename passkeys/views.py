"""The passkeys page: list, add (through the page script), rename, remove."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from accounts import authrecord, sessions
from accounts.app_settings import app_settings as accounts_settings
from accounts.decorators import reauthentication_redirect
from accounts.errors import FlowError
from accounts.forms import NewEmailForm
from accounts.views.base import AuthPageMixin, FlowFormView, LinkPageMixin
from passkeys import flows
from passkeys.app_settings import app_settings
from passkeys.models import Passkey

PASSKEY_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits: str.isdigit() also takes "²"


class ManageView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "passkeys/manage.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(Passkey.objects.filter(user=self.request.user))
        for row in rows:
            row.provider = flows.provider_name(row.aaguid)
        context.update(passkeys=rows, recent=authrecord.is_recent(self.request),
                       other_sessions=sessions.other_sessions_count(self.request))
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        raw_id = request.POST.get("passkey", "")
        if not PASSKEY_ID.fullmatch(raw_id):
            messages.error(request, _("Choose a passkey."))
            return redirect("passkeys:manage")
        try:
            if action == "rename":
                passkey = flows.passkey_rename(request, user=request.user,
                                               passkey_id=int(raw_id),
                                               name=request.POST.get("name", "")[:200])
                # True whether or not the name changed (Rename pressed without an edit).
                messages.success(request, _("The passkey is named “%(name)s”.")
                                 % {"name": passkey.name})
            elif action == "remove":
                if not authrecord.is_recent(request):
                    return reauthentication_redirect(request)
                flows.passkey_remove(request, user=request.user, passkey_id=int(raw_id))
                messages.success(request, _("The passkey was removed."))
            else:
                messages.error(request, _("Unknown action."))
        except FlowError as error:
            messages.error(request, error.message)
        return redirect("passkeys:manage")


class SignupOpenMixin:
    """The pages of passkey-only sign-up exist only while it is on
    (``AUTHSUITE_PASSKEYS_SIGNUP``) and sign-up is open (``SIGNUP_OPEN``)."""

    def dispatch(self, request, *args, **kwargs):
        if not (app_settings.SIGNUP and accounts_settings.SIGNUP_OPEN):
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class SignupView(SignupOpenMixin, FlowFormView):
    """Sign-up with a passkey only: the email address first."""

    template_name = "passkeys/signup.html"
    form_class = NewEmailForm

    def run(self, form):
        from passkeys import signup

        signup.signup_request(self.request, email=form.cleaned_data["email"])
        return redirect("accounts:verification_sent")


class SignupCompleteView(SignupOpenMixin, LinkPageMixin, AuthPageMixin, TemplateView):
    """The mailed link's page, where the passkey is created (by the page script, through
    the API). Its token leaves the URL at the first GET, as every emailed link's does
    (``LinkPageMixin``): the script posts the page's reference to the link the session
    keeps, never the token."""

    template_name = "passkeys/signup_complete.html"
    link = "passkey_signup"  # passkeys.signup.LINK

    def check(self):
        from passkeys import signup

        return signup.signup_check(self.request, token=self.token)
