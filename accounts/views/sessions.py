"""The account's open sessions, and ending them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.generic import TemplateView

from accounts import authrecord, sessions
from accounts.decorators import reauthentication_redirect
from accounts.flows import login as login_flows
from accounts.views.base import AuthPageMixin, posted_id


class SessionsView(LoginRequiredMixin, AuthPageMixin, TemplateView):
    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sessions"] = sessions.sessions_alive(self.request.user).only(
            "id", "user_agent", "device", "ip", "created_at", "last_seen_at", "remember"
        )
        context["current_id"] = sessions.current_session_id(self.request)
        return context

    def post(self, request, *args, **kwargs):
        which = request.POST.get("session", "")
        current = sessions.current_session_id(request)
        session_id = None
        if which not in ("others", "all"):
            session_id = posted_id(request, "session")
            if session_id is None:
                messages.error(request, _("Choose a session."))
                return redirect("accounts:sessions")
        if (session_id is None or session_id != current) and not authrecord.is_recent(request):
            # Ending another session, or every one, takes a recent authentication (ASVS
            # 7.5.2): a stolen session cannot sign its owner out everywhere. Ending this
            # one is signing out.
            return reauthentication_redirect(request)
        if which == "others":
            count = sessions.sessions_end(request.user, request=request, reason="user", keep=current)
            messages.success(request, ngettext("%(n)d other session ended.",
                                              "%(n)d other sessions ended.", count) % {"n": count})
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
