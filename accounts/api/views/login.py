"""Signing in and out over the API: CSRF token, session state, password, sign-in link, sign-out."""

from __future__ import annotations

from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import status
from rest_framework.response import Response

from accounts import authrecord, pipeline
from accounts.api import serializers as s
from accounts.api.views.base import (
    LINKS_OFF,
    LOCKED,
    PASSWORD_PAUSED,
    TOKEN_INVALID,
    AccountsAPIView,
    _detail,
    _login_response,
)
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from accounts.users import user_email, user_name
from authsuite.api.schema import error, extend_schema


class CsrfView(AccountsAPIView):
    @extend_schema(responses={200: s.DetailSerializer}, summary="Get a CSRF token (sets the cookie)")
    def get(self, request):
        return Response({"detail": get_token(request._request)})


class SessionStateView(AccountsAPIView):
    @extend_schema(responses=s.SessionStateSerializer, summary="Who is signed in, and how")
    def get(self, request):
        user = request.user
        pending = pipeline.state_get(request._request)
        data = {
            "authenticated": user.is_authenticated,
            "user": {"id": str(user.pk), "email": user_email(user), "name": user_name(user)}
            if user.is_authenticated else None,
            "auth": authrecord.record_public(request._request) if user.is_authenticated else None,
            "pending_stage": None,
        }
        if pending is not None and not user.is_authenticated:
            # The stage the sign-in waits for: the only one the pipeline will accept.
            stage = pipeline.stage_current(request._request)
            data["pending_stage"] = stage.key if stage else None
        return Response(data)


class LoginView(AccountsAPIView):
    input_serializer = s.LoginSerializer

    @extend_schema(request=s.LoginSerializer, responses={
                       200: s.LoginResultSerializer,
                       400: error("The address or the password is wrong "
                                  "(`invalid_credentials`; the same either way)."),
                       403: PASSWORD_PAUSED, 429: LOCKED},
                   summary="Sign in with email and password")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        result = login_flows.password_login(
            request._request, email=data["email"], password=data["password"],
            remember=data["remember"],
        )
        return _login_response(result)


class LogoutView(AccountsAPIView):
    @extend_schema(request=None, responses={204: None}, summary="Sign out this session")
    def post(self, request):
        login_flows.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MagicLinkRequestView(AccountsAPIView):
    input_serializer = s.EmailSerializer

    @extend_schema(request=s.EmailSerializer,
                   responses={202: s.DetailSerializer, 403: error(LINKS_OFF)},
                   summary="Email a sign-in link (same answer whether or not the account exists)")
    def post(self, request):
        data = self.valid(request)
        magic_flows.magic_link_request(request._request, email=data["email"])
        return _detail(_("If an account uses this address, a sign-in link is on its way."))


class MagicLinkConfirmView(AccountsAPIView):
    input_serializer = s.TokenSerializer

    @extend_schema(request=s.TokenSerializer,
                   responses={200: s.LoginResultSerializer, 400: error(TOKEN_INVALID),
                              403: error(LINKS_OFF)},
                   summary="Sign in with the token from a magic link")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        return _login_response(magic_flows.magic_link_login(request._request, token=data["token"]))
