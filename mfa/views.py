"""MFA pages: factor list, TOTP setup, recovery codes, the sign-in challenge, enrollment."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.generic import TemplateView

from accounts import authrecord, pipeline, sessions
from accounts.decorators import ReauthenticationRequiredMixin
from accounts.errors import FlowError
from accounts.views.base import AuthPageMixin, FlowFormView
from authsuite.urls_util import safe_next
from authsuite.views import render_confidential
from mfa import devices, flows, policy, trust
from mfa.forms import ActivateForm, ChallengeForm, RecoveryCodeForm

TRUSTED_ID_RE = re.compile(r"[0-9]{1,18}")


@sensitive_variables()
def codes_download_href(codes: list[str]) -> str:
    """A data: URL for the "download" link: the codes never go back to the server."""
    return "data:text/plain;charset=utf-8," + quote("\n".join(codes) + "\n")


class IndexView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "mfa/index.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        context = super().get_context_data(**kwargs)
        recovery = devices.recovery_set(user)
        context.update(
            totp=devices.totp_device(user),
            recovery=recovery,
            recovery_remaining=recovery.remaining() if recovery else 0,
            trusted=trust.trusted_list(user),
            grace_ends=policy.grace_ends(user),
            required=policy.is_required(user),
            other_sessions=sessions.other_sessions_count(self.request),
        )
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        if action == "untrust":
            raw = request.POST.get("trusted", "")
            revoked = 0
            if raw == "all":
                revoked = trust.trust_revoke(request.user, request=request)
            elif TRUSTED_ID_RE.fullmatch(raw):
                # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
                revoked = trust.trust_revoke(request.user, request=request, trusted_id=int(raw))
            if revoked:
                messages.success(request, _("The browser will ask for a code again."))
            else:
                messages.error(request, _("No such browser."))
        return redirect("mfa:index")


class TOTPSetupView(LoginRequiredMixin, ReauthenticationRequiredMixin, FlowFormView):
    """Signed-in enrollment (needs a recent authentication).

    Opening the page changes nothing: it shows the setup this session began, or a button
    that begins one. Beginning makes a key, so it is a POST (with the CSRF token), as with
    the API; a link followed, a prefetch or a page another site loads begins nothing."""

    template_name = "mfa/totp_setup.html"
    form_class = ActivateForm

    def user(self):
        return self.request.user

    def get(self, request, *args, **kwargs):
        if devices.totp_device(self.user()) is not None:
            return self.enrolled()
        try:
            flows.totp_setup_allowed(self.user())  # said now rather than after the button
        except FlowError as error:
            messages.error(request, error.message)
            return redirect(self.done_url())
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if request.POST.get("action") == "begin":
            return self.begin()
        return super().post(request, *args, **kwargs)

    def begin(self):
        user = self.user()
        if devices.totp_device(user) is not None:
            return self.enrolled()
        try:
            # The setup this session began, while fresh, as the API gives it: a second tab
            # pressing the button shows the key the first one is scanning.
            if flows.totp_setup_pending(self.request, user=user) is None:
                flows.totp_setup_begin(self.request, user=user)
        except FlowError as error:
            messages.error(self.request, error.message)
            return redirect(self.done_url())
        return redirect(self.request.path)  # the page shows the setup begun

    def enrolled(self):
        messages.info(self.request, _("An authenticator app is already set up."))
        return redirect(self.done_url())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["setup"] = flows.totp_setup_pending(self.request, user=self.user())
        return context

    def render_to_response(self, context, **response_kwargs):
        # The page shows the key (as text and in the QR code), on a GET and again with the
        # form's errors.
        return render_confidential(super().render_to_response(context, **response_kwargs))

    def done_url(self) -> str:
        return reverse("mfa:index")

    @sensitive_variables("codes")
    def run(self, form):
        codes = flows.totp_activate(self.request, user=self.user(), code=form.cleaned_data["code"])
        return self.activated(codes)

    @sensitive_variables("codes")
    def activated(self, codes):
        # The signed-in user just proved the new factor: this session now has two.
        authrecord.record_step_up(self.request, ["otp"])
        if codes:
            return render_confidential(self.response_class(
                request=self.request, template=["mfa/recovery_codes_new.html"],
                context={"codes": codes, "download": codes_download_href(codes),
                         "continue_url": self.done_url()},
                using=self.template_engine,
            ))
        messages.success(self.request, _("Your authenticator app is set up."))
        return redirect(self.done_url())


class TOTPRemoveView(LoginRequiredMixin, ReauthenticationRequiredMixin, AuthPageMixin,
                     TemplateView):
    template_name = "mfa/totp_remove.html"

    def post(self, request, *args, **kwargs):
        try:
            flows.totp_remove(request, user=request.user)
            messages.success(request, _("The authenticator app was removed."))
        except FlowError as error:
            messages.error(request, error.message)
        return redirect("mfa:index")


class RecoveryCodesView(LoginRequiredMixin, ReauthenticationRequiredMixin, AuthPageMixin,
                        TemplateView):
    template_name = "mfa/recovery_codes.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        recovery = devices.recovery_set(self.request.user)
        context["remaining"] = recovery.remaining() if recovery else 0
        context["has_mfa"] = devices.has_mfa(self.request.user)
        return context

    @sensitive_variables("codes")
    def post(self, request, *args, **kwargs):
        try:
            codes = flows.recovery_regenerate(request, user=request.user)
        except FlowError as error:
            messages.error(request, error.message)
            return redirect("mfa:index")
        return render_confidential(self.response_class(
            request=request, template=["mfa/recovery_codes_new.html"],
            context={"codes": codes, "download": codes_download_href(codes),
                     "continue_url": reverse("mfa:index")},
            using=self.template_engine,
        ))


class ChallengeView(FlowFormView):
    """The second-factor stage of a sign-in, or a step-up for a signed-in user."""

    template_name = "mfa/challenge.html"
    form_class = ChallengeForm

    def dispatch(self, request, *args, **kwargs):
        self.state = pipeline.state_get(request)
        self.step_up = self.state is None and request.user.is_authenticated
        if self.state is None and not self.step_up:
            return redirect("accounts:login")
        return super().dispatch(request, *args, **kwargs)

    def get_form_class(self):
        if self.request.method == "POST" and self.request.POST.get("kind") == "recovery":
            return RecoveryCodeForm
        return ChallengeForm

    def get_context_data(self, **kwargs):
        form = kwargs.get("form") or self.get_form()
        if isinstance(form, RecoveryCodeForm):
            kwargs.update(form=ChallengeForm(), recovery_form=form)
        else:
            kwargs.update(form=form, recovery_form=RecoveryCodeForm())
        context = super().get_context_data(**kwargs)
        context["step_up"] = self.step_up
        context.update(self.ways())
        return context

    def ways(self) -> dict:
        """Which ways in the page offers: the code form for an account with an app, the
        recovery code for one with a code left, and, with neither and no other usable factor
        (only a passkey flagged as cloned), who can help instead of forms that cannot
        succeed. Never more than the account has: the password is proven by now.

        ``ways`` (``mfa.devices.ways``) is in the context too, for the ways other apps add
        in the ``mfa_alternatives`` slot (a passkey button): they read it there rather
        than load the pending account and its factors again."""
        user = self.request.user if self.step_up else self.state.user()
        if user is None or not devices.has_mfa(user):
            # Gone meanwhile, or a step-up before any factor: the forms, which refuse, and
            # no factor of another app (the account has none).
            return {"has_app": True, "has_codes": True, "can_prove": True, "ways": [],
                    "codes_refused": False}
        every = devices.ways(user)
        ways = every if self.step_up else devices.usable_after(every, self.state.amr)
        return {"has_app": "totp" in ways, "has_codes": "recovery_code" in ways,
                "can_prove": bool(ways), "ways": ways,
                # an app or codes this sign-in cannot use (after a passkey that did not
                # verify its user): said, rather than left out unexplained
                "codes_refused": len(ways) < len(every)}

    @sensitive_variables("code")
    def run(self, form):
        code = form.cleaned_data["code"]
        if self.step_up:
            flows.step_up(self.request, user=self.request.user, code=code)
            # Not redirect(): a next without "/" or "." would be looked up as a URL
            # pattern's name (NoReverseMatch, a 500, after the code was accepted).
            return HttpResponseRedirect(
                safe_next(self.request, self.next_url(), reverse("mfa:index")))
        result = flows.challenge(self.request, code=code)
        response = self.after_login(result)
        if result.complete and form.cleaned_data.get("trust_browser"):
            trust.trust_issue(self.request, response, result.user)
        return response

    def flow_failed(self, form, error):
        if error.code == "mfa_locked" or error.code == "no_login_pending":
            messages.error(self.request, error.message)
            return redirect("accounts:login")
        return super().flow_failed(form, error)


class EnrollView(TOTPSetupView):
    """Enrollment stage of a sign-in for users who must have MFA and have none."""

    template_name = "mfa/enroll.html"

    def dispatch(self, request, *args, **kwargs):
        self.state = pipeline.state_get(request)
        self.pending_user = self.state.user() if self.state else None
        stage = pipeline.stage_current(request)
        # Only as the sign-in's current step: enrolling an app must never stand in for a
        # second factor the user already has (the challenge stage would be skipped).
        if self.pending_user is None or stage is None or stage.key != "mfa_enroll":
            return redirect("accounts:login")
        # No reauthentication: the first factor was passed moments ago in this sign-in.
        return FlowFormView.dispatch(self, request, *args, **kwargs)

    def user(self):
        return self.pending_user

    def done_url(self) -> str:
        return reverse("accounts:login")

    @sensitive_variables("codes")
    def activated(self, codes):
        # The code proved the pending account's new app. The session may be signed in as
        # another account (a sign-in begun in a browser already signed in): that account
        # proved nothing, so its record stays as it was; the pipeline records the factor
        # for the account it signs in.
        result = pipeline.stage_passed(self.request, "mfa_enroll", amr=["otp"],
                                       also_done=("mfa",))
        if result is None:
            return redirect("accounts:login")
        response = self.after_login(result)
        if codes:
            return self.response_class(
                request=self.request, template=["mfa/recovery_codes_new.html"],
                context={"codes": codes, "download": codes_download_href(codes),
                         "continue_url": response["Location"]},
                using=self.template_engine,
            )
        return response
