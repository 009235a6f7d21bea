"""Reauthentication over the API: the password again, or a link emailed to this browser."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import authrecord
from accounts.api import serializers as s
from accounts.api.views.base import (
    LINKS_OFF,
    LOCKED,
    PASSWORD_PAUSED,
    TOKEN_INVALID,
    AccountsAPIView,
    _detail,
)
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from authsuite.api.schema import error, extend_schema


class ReauthenticateView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.PasswordSerializer

    @extend_schema(request=s.PasswordSerializer, responses={
                       200: s.AuthRecordSerializer,
                       400: error("The password is wrong (`password_incorrect`)."),
                       403: PASSWORD_PAUSED, 429: LOCKED},
                   summary="Confirm the password to unlock sensitive actions")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        login_flows.reauthenticate(request._request, password=data["password"])
        return Response(authrecord.record_public(request._request))


class ReauthenticateLinkView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={202: s.DetailSerializer, 403: error(LINKS_OFF),
                                            409: error(
                       "The account has a password: confirm with it (`use_password`).")},
                   summary="Email a link that confirms it is you, for an account without a "
                           "password; it works in this session only")
    def post(self, request):
        magic_flows.reauthentication_link_request(request._request)
        return _detail(_("A link to confirm it is you is on its way."))


class ReauthenticateLinkConfirmView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.TokenSerializer

    @extend_schema(request=s.TokenSerializer, responses={
                       200: s.AuthRecordSerializer, 400: error(TOKEN_INVALID),
                       403: error(LINKS_OFF)},
                   summary="Confirm it is you with the token from that link")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        magic_flows.reauthenticate_by_link(request._request, token=data["token"])
        # The record as the API shows it, as after the password: the session's own copy
        # holds bookkeeping (which factors were proven when) that is no client's business.
        return Response(authrecord.record_public(request._request))
