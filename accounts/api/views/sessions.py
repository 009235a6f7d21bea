"""The account's open sessions over the API, and ending them."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import sessions
from accounts.api import serializers as s
from accounts.api.views.base import AccountsAPIView, IsRecentlyAuthenticated, _detail
from accounts.errors import AccountsError, FlowError
from accounts.flows import login as login_flows
from authsuite.api.schema import error, extend_schema


class SessionListView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.UserSessionSerializer(many=True), summary="Your active sessions")
    def get(self, request):
        current = sessions.current_session_id(request._request)
        rows = sessions.sessions_alive(request.user)
        data = [
            {"id": r.pk, "device": r.device_label, "ip": r.ip, "created_at": r.created_at,
             "last_seen_at": r.last_seen_at, "remember": r.remember, "current": r.pk == current}
            for r in rows
        ]
        return Response(s.UserSessionSerializer(data, many=True).data)


class SessionDetailView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: error("No such session (`session_not_found`).")},
                   summary="End one of your sessions",
                   description="Ending a session other than this one needs a recent "
                               "authentication (`reauthentication_required`).")
    def delete(self, request, pk: int):
        user = request.user
        if pk != sessions.current_session_id(request._request):
            IsRecentlyAuthenticated().has_permission(request, self)
        if not sessions.sessions_end(user, request=request._request, reason="user", only=pk):
            raise FlowError(AccountsError.SESSION_NOT_FOUND, _("No such session."))
        if pk == sessions.current_session_id(request._request):
            login_flows.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionEndOthersView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None, responses=s.DetailSerializer, summary="End all other sessions")
    def post(self, request):
        count = sessions.sessions_end(
            request.user, request=request._request, reason="user",
            keep=sessions.current_session_id(request._request),
        )
        return _detail(ngettext("%(count)d session ended.", "%(count)d sessions ended.", count)
                       % {"count": count}, status.HTTP_200_OK)


class SessionEndAllView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None, responses={204: None},
                   summary="End every session, this one included (sign out everywhere)")
    def post(self, request):
        sessions.sessions_end(request.user, request=request._request, reason="user")
        login_flows.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
