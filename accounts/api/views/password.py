"""Passwords over the API: change, reset by link, the new password a sign-in may require."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import status

from accounts import pipeline
from accounts.api import serializers as s
from accounts.api.views.base import (
    CHECK_UNAVAILABLE,
    LOCKED,
    PASSWORD_PAUSED,
    PASSWORD_REFUSED,
    TOKEN_INVALID,
    AccountsAPIView,
    IsRecentlyAuthenticated,
    _detail,
    _login_response,
)
from accounts.errors import AccountsError, FlowError
from accounts.flows import password as password_flows
from authsuite.api.schema import error, extend_schema


class PasswordChangeView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]
    input_serializer = s.PasswordChangeSerializer

    @extend_schema(request=s.PasswordChangeSerializer,
                   responses={200: s.DetailSerializer,
                              400: error("The current password is missing "
                                         "(`password_required`) or wrong (`password_incorrect`). "
                                         + PASSWORD_REFUSED),
                              403: PASSWORD_PAUSED, 429: LOCKED, 503: CHECK_UNAVAILABLE},
                   summary="Change the password (ends every other session)")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        password_flows.password_change(
            request._request, user=request.user,
            current_password=data.get("current_password", ""), new_password=data["new_password"],
        )
        return _detail(_("The password is changed."), status.HTTP_200_OK)


class PasswordResetView(AccountsAPIView):
    input_serializer = s.EmailSerializer

    @extend_schema(request=s.EmailSerializer, responses={202: s.DetailSerializer},
                   summary="Email a password-reset link (same answer either way)")
    def post(self, request):
        data = self.valid(request)
        password_flows.password_reset_request(request._request, email=data["email"])
        return _detail(_("If an account uses this address, a reset link is on its way."))


class PasswordResetConfirmView(AccountsAPIView):
    input_serializer = s.ResetConfirmSerializer

    @extend_schema(request=s.ResetConfirmSerializer,
                   responses={200: s.DetailSerializer,
                              400: error(f"{TOKEN_INVALID} {PASSWORD_REFUSED}"),
                              503: CHECK_UNAVAILABLE},
                   summary="Set a new password with a reset token (does not sign in)")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid_for_live_token(request, password_flows.password_reset_check)
        password_flows.password_reset_complete(
            request._request, token=data["token"], new_password=data["new_password"]
        )
        return _detail(_("The password is changed. Sign in with it."), status.HTTP_200_OK)


class PasswordRequiredView(AccountsAPIView):
    input_serializer = s.NewPasswordSerializer

    @extend_schema(request=s.NewPasswordSerializer,
                   responses={200: s.LoginResultSerializer, 400: error(PASSWORD_REFUSED),
                              409: error(
                       "No sign-in is waiting for this step (`no_login_pending`)."),
                       503: CHECK_UNAVAILABLE},
                   summary="Login stage: choose the new password staff asked for")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        state = pipeline.state_get(request._request)
        user = state.user() if state else None
        stage = pipeline.stage_current(request._request)
        # Only as the sign-in's current step: never while an earlier stage (MFA) still waits.
        if user is None or stage is None or stage.key != "password_change_required":
            raise FlowError(AccountsError.NO_LOGIN_PENDING,
                            _("No sign-in is waiting for this step."))
        password_flows.password_required_change(
            request._request, user=user, new_password=data["new_password"]
        )
        result = pipeline.stage_passed(request._request, "password_change_required")
        if result is None:
            # The sign-in ended while the password was stored (timed out, or the account
            # was disabled): the password is changed; signing in starts again, as the page
            # sends the user back to sign in.
            raise FlowError(AccountsError.NO_LOGIN_PENDING, _(
                "No sign-in is waiting for this step any more. Sign in with your new password."))
        return _login_response(result)
