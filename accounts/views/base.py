"""What every auth page shares: the page mixin, the form-to-flow view, the emailed-link confirmation."""

from __future__ import annotations

import re

from django import forms
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from accounts import links, pipeline
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.forms import PasswordForm
from authsuite.urls_util import safe_next
from authsuite.views import PageMethodsMixin

#: A row id as pages write it: ASCII digits, within a 64-bit key. ``int()`` also reads "٢",
#: " 2 ", "+2" and "0_2" as 2; none of them is a choice any page offers.
ROW_ID = re.compile(r"[0-9]{1,18}")


def posted_id(request, name: str) -> int | None:
    """The row id posted as ``name``, or None when it is not one (see ``ROW_ID``)."""
    raw = request.POST.get(name, "")
    return int(raw) if ROW_ID.fullmatch(raw) else None


class AuthPageMixin(PageMethodsMixin):
    """Shared behaviour of auth pages: no caching, flow errors shown on the form, the suite's
    405 page for a method they do not take."""

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


#: Stands in a link's URL for the token once the session holds it (never a valid token).
TOKEN_IN_SESSION = "confirm"


class LinkPageMixin:
    """The page an emailed link opens: its token leaves the URL at the first GET.

    That GET checks the token (``check``) and consumes nothing, so mail scanners that
    prefetch links use up nothing. It keeps the token in the session (``accounts.links``,
    under ``link``) and sends the browser on to the same page with ``confirm`` in its place,
    so the page, the address bar, the history and every ``Referer`` carry no token, and
    access logs see it once. The page carries a reference to its token
    (``link_reference``), and what the page then posts acts only if the session still
    holds that token.
    """

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
            return self.invalid(FlowError(AccountsError.TOKEN_INVALID, _(links.NOT_HELD)))
        return None

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

    def invalid(self, error: FlowError):
        response = self.response_class(
            request=self.request, template=[self.invalid_template_name],
            context={"error": error}, using=self.template_engine,
            status=429 if error.retry_after else 400,
        )
        if error.retry_after:
            response["Retry-After"] = str(error.retry_after)
        return response


class TokenConfirmView(LinkPageMixin, FlowFormView):
    """GET shows a confirmation page without consuming the token (``LinkPageMixin``); POST
    consumes it, only if the session still holds the token the page was shown for.
    """

    form_class = PasswordForm  # replaced in subclasses

    def post(self, request, *args, **kwargs):
        if (missing := self.without_token()) is not None:
            return missing
        if self.kwargs["token"] == TOKEN_IN_SESSION and not links.referenced(
                self.token, request.POST.get("link", "")):
            # Another link was opened in this browser after this page was shown (by a
            # site sending it there, say): confirm neither; the person opens theirs again.
            return self.invalid(FlowError(AccountsError.TOKEN_INVALID, _(links.ANOTHER_OPENED)))
        return super().post(request, *args, **kwargs)

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
