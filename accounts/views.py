"""HTML views: each translates a form into a flow call and the flow's outcome into a page.

Every page sets ``Cache-Control: no-store`` (never_cache) and hides passwords from error
reports (sensitive_post_parameters). Templates are view attributes, so a project can point
any page at its own template.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView, View

from accounts import authrecord, links, pipeline, sessions, tokens
from accounts.app_settings import app_settings
from accounts.decorators import (
    ReauthenticationRequiredMixin,
    reauthentication_redirect,
    requested_max_age,
)
from accounts.errors import AccountsError, FlowError
from accounts.flows import account as account_flows
from accounts.flows import email as email_flows
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from accounts.flows import password as password_flows
from accounts.flows.signup import signup
from accounts.forms import (
    PASSWORD_MAX,
    CloseAccountForm,
    EmailForm,
    LoginForm,
    NewEmailForm,
    NewPasswordForm,
    PasswordChangeForm,
    PasswordForm,
    SignupForm,
)
from accounts.models import EmailAddress
from authsuite import crypto
from authsuite.urls_util import safe_next


class AuthPageMixin:
    """Shared behaviour of auth pages: no caching, flow errors shown on the form."""

    # Forms only ever POST. FormView would answer PUT like POST, and so consume a link's
    # token on a request no page of ours sends; every other method gets a 405.
    http_method_names = ["get", "head", "options", "post"]

    @classmethod
    def as_view(cls, **initkwargs):
        # Decorated once, here: method_decorator on dispatch would wrap the bound method
        # in both decorators again on every request.
        return never_cache(sensitive_post_parameters()(super().as_view(**initkwargs)))

    def next_url(self) -> str:
        raw = self.request.POST.get("next") or self.request.GET.get("next") or ""
        return safe_next(self.request, raw, "")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next"] = self.next_url()
        return context

    def flow_failed(self, form, error: FlowError):
        field = error.field if error.field in form.fields else None
        for message in error.messages:
            form.add_error(field, message)
        response = self.render_to_response(self.get_context_data(form=form))
        if error.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(error.retry_after)
        return response

    def after_login(self, result: pipeline.LoginResult):
        if result.stage is not None:
            return redirect(result.stage.url())
        target = safe_next(self.request, result.next_url, lambda: app_settings.LOGIN_REDIRECT_URL)
        return HttpResponseRedirect(target)


class FlowFormView(AuthPageMixin, FormView):
    def form_valid(self, form):
        try:
            return self.run(form)
        except FlowError as error:
            return self.flow_failed(form, error)

    def run(self, form):  # pragma: no cover - interface
        raise NotImplementedError


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
        login_flows.logout(request)
        messages.info(request, _("You have signed out."))
        return redirect("accounts:login")


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


#: Stands in a link's URL for the token once the session holds it (never a valid token).
TOKEN_IN_SESSION = "confirm"


class TokenConfirmView(FlowFormView):
    """GET shows a confirmation page without consuming the token; POST consumes it.

    Mail scanners that prefetch links therefore use up nothing. The token leaves the URL at
    the first GET: it is kept in the session (``accounts.links``) and the browser is sent on
    to the same page with ``confirm`` in its place, so the page, its form, the address bar,
    the history and every ``Referer`` carry no token, and access logs see it once. The page
    carries a reference to its token, and the POST acts only if the session still holds
    that token.
    """

    form_class = PasswordForm  # replaced in subclasses
    invalid_template_name = "accounts/token_invalid.html"
    #: Which link this is, naming its place in the session.
    link = ""

    def check(self):  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def token(self) -> str:
        """The link's token: from the session once it has left the URL."""
        if self.kwargs["token"] == TOKEN_IN_SESSION:
            return links.kept(self.request, self.link)
        return self.kwargs["token"]

    def without_token(self):
        """The page to show when the URL stands for a token this session does not hold."""
        if self.kwargs["token"] == TOKEN_IN_SESSION and not self.token:
            # Opened in another browser than the link's, with cookies off, or used up.
            return self.invalid(FlowError(AccountsError.TOKEN_INVALID, _(
                "This browser holds no link to confirm. Open the link from your email "
                "again (cookies must be allowed for this site).")))
        return None

    def post(self, request, *args, **kwargs):
        if (missing := self.without_token()) is not None:
            return missing
        if self.kwargs["token"] == TOKEN_IN_SESSION and not crypto.digests_match(
                request.POST.get("link", ""), links.reference(self.token)):
            # Another link was opened in this browser after this page was shown (by a
            # site sending it there, say): confirm neither; the person opens theirs again.
            return self.invalid(FlowError(AccountsError.TOKEN_INVALID, _(
                "Another link was opened in this browser since this page was shown. Open "
                "the link from your email again.")))
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["link_reference"] = links.reference(self.token)
        return context

    def get(self, request, *args, **kwargs):
        if (missing := self.without_token()) is not None:
            return missing
        try:
            self.token_row = self.check()
        except FlowError as error:
            return self.invalid(error)
        if self.kwargs["token"] != TOKEN_IN_SESSION:
            links.keep(request, self.link, self.kwargs["token"])
            target = reverse(request.resolver_match.view_name,
                             kwargs={"token": TOKEN_IN_SESSION})
            query = request.GET.urlencode(safe="/")
            return HttpResponseRedirect(f"{target}?{query}" if query else target)
        return super().get(request, *args, **kwargs)

    def form_invalid(self, form):
        # A dead link (used, expired, voided or forged) is refused before the form's errors
        # (a new password, the account's password), in the same words as when the form is
        # valid: nobody fixes a password only to learn the link was dead all along. One
        # check per POST, as the flow's own would be: the form never reaches the flow.
        try:
            self.token_row = self.check()
        except FlowError as error:
            return self.invalid(error)
        return super().form_invalid(form)

    def invalid(self, error: FlowError):
        response = self.response_class(
            request=self.request, template=[self.invalid_template_name],
            context={"error": error}, using=self.template_engine,
            status=429 if error.retry_after else 400,
        )
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response

    def form_valid(self, form):
        try:
            response = self.run(form)
        except FlowError as error:
            if error.field:
                return self.flow_failed(form, error)
            return self.invalid(error)
        if self.kwargs["token"] == TOKEN_IN_SESSION:
            links.forget(self.request, self.link)
        return response


class ConfirmForm(forms.Form):
    """An empty form: the confirmation button only."""


class VerifyForm(forms.Form):
    """The confirmation button, and the account's password when the browser is not signed
    in as the account (``email_flows.verification_needs_password``)."""

    password = forms.CharField(
        label=_("Password"), required=False, max_length=PASSWORD_MAX, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class EmailVerifyView(TokenConfirmView):
    template_name = "accounts/email_verify.html"
    form_class = VerifyForm

    link = "verify_email"

    def check(self):
        return email_flows.email_verify_check(self.request, token=self.token)

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


class MagicLinkRequestView(FlowFormView):
    template_name = "accounts/magic_link.html"
    form_class = EmailForm

    def run(self, form):
        magic_flows.magic_link_request(self.request, email=form.cleaned_data["email"])
        return self.render_to_response(
            self.get_context_data(form=self.get_form_class()(), sent_to=form.cleaned_data["email"])
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


class PasswordResetView(FlowFormView):
    template_name = "accounts/password_reset.html"
    form_class = EmailForm

    def run(self, form):
        password_flows.password_reset_request(self.request, email=form.cleaned_data["email"])
        return redirect("accounts:password_reset_done")


class PasswordResetDoneView(AuthPageMixin, TemplateView):
    template_name = "accounts/password_reset_done.html"


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

    def run(self, form):
        password_flows.password_required_change(
            self.request, user=self.state.user(), new_password=form.cleaned_data["new_password"]
        )
        result = pipeline.stage_passed(self.request, "password_change_required")
        if result is None:
            return redirect("accounts:login")
        return self.after_login(result)


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


class ProfileView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "accounts/profile.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["record"] = authrecord.record_public(self.request)
        return context


class PasswordChangeView(LoginRequiredMixin, ReauthenticationRequiredMixin, FlowFormView):
    template_name = "accounts/password_change.html"
    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(),
                "has_password": self.request.user.has_usable_password()}

    def run(self, form):
        password_flows.password_change(
            self.request, user=self.request.user,
            current_password=form.cleaned_data.get("current_password", ""),
            new_password=form.cleaned_data["new_password"],
        )
        messages.success(self.request, _("Your password is changed; your other sessions ended."))
        return redirect("accounts:profile")


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
        try:
            address_id = int(request.POST.get("address", ""))
        except ValueError:
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
        email_flows.email_add(self.request, user=self.request.user, email=form.cleaned_data["email"])
        messages.success(
            self.request,
            _("We sent a verification link to %(email)s.") % {"email": form.cleaned_data["email"]},
        )
        return redirect("accounts:email")


class SessionsView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sessions"] = sessions.sessions_alive(self.request.user).only(
            "id", "device", "ip", "created_at", "last_seen_at", "remember"
        )
        context["current_id"] = sessions.current_session_id(self.request)
        return context

    def post(self, request, *args, **kwargs):
        which = request.POST.get("session", "")
        current = sessions.current_session_id(request)
        session_id = None
        if which not in ("others", "all"):
            try:
                session_id = int(which)
            except ValueError:
                messages.error(request, _("Choose a session."))
                return redirect("accounts:sessions")
        if (session_id is None or session_id != current) and not authrecord.is_recent(request):
            # Ending another session, or every one, takes a recent authentication (ASVS
            # 7.5.2): a stolen session cannot sign its owner out everywhere. Ending this
            # one is signing out.
            return reauthentication_redirect(request)
        if which == "others":
            count = sessions.sessions_end(request.user, request=request, reason="user", keep=current)
            messages.success(request, _("%(n)d other sessions ended.") % {"n": count})
        elif which == "all":
            sessions.sessions_end(request.user, request=request, reason="user")
            login_flows.logout(request)
            return redirect("accounts:login")
        else:
            ended = sessions.sessions_end(request.user, request=request, reason="user", only=session_id)
            if ended and session_id == current:
                login_flows.logout(request)
                return redirect("accounts:login")
            if ended:
                messages.success(request, _("The session ended."))
            else:
                messages.error(request, _("No such session."))
        return redirect("accounts:sessions")


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


