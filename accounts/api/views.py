"""JSON API of the accounts flows. Views only translate; flows decide."""

from __future__ import annotations

from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts import authrecord, pipeline, sessions
from accounts.errors import AccountsError, FlowError
from accounts.flows import account as account_flows
from accounts.flows import email as email_flows
from accounts.flows import login as login_flows
from accounts.flows import magic_link as magic_flows
from accounts.flows import password as password_flows
from accounts.flows.signup import signup
from accounts.models import EmailAddress
from accounts.users import user_email, user_name
from authsuite.api.errors import APIError, CoreError
from authsuite.api.schema import error
from authsuite.api.views import SuiteAPIView, api_error

from . import serializers as s


def _from_flow(error: FlowError) -> APIError:
    return api_error(
        error.code, error.message, status=error.status, field=error.field,
        messages=error.messages, retry_after=error.retry_after,
    )


class IsRecentlyAuthenticated(BasePermission):
    """Sensitive actions: the session must have authenticated within the reauth timeout,
    or within the view's ``reauthentication_max_age`` when it sets one."""

    message = "Confirm your password first (POST /api/auth/v1/reauthenticate/)."
    second_factor_message = ("Confirm your second factor too (POST /api/auth/v1/mfa/challenge/ "
                             "with a code, or reauthenticate with a passkey).")
    unavailable_message = ("Your account has no second factor you can use now: a passkey "
                           "disabled for safety cannot confirm it is you, and there is no "
                           "unused recovery code. Ask staff to reset two-step verification.")

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        max_age = getattr(view, "reauthentication_max_age", None)
        if not authrecord.is_recent(request._request, max_age):
            # The factor due by the view's own age: by the default, a client told to
            # confirm its password would be refused again, and told the same, every time.
            due = authrecord.second_factor_due(request._request, max_age)
            if due and authrecord.second_factor_unusable(request._request):
                # Still refused (a flagged passkey proves nothing), but told why, so that a
                # client stops asking for a factor the account cannot give.
                raise APIError(self.unavailable_message, CoreError.SECOND_FACTOR_UNAVAILABLE,
                               status_code=403)
            message = self.second_factor_message if due else self.message
            raise APIError(message, CoreError.REAUTHENTICATION_REQUIRED, status_code=403)
        return True


@method_decorator([never_cache, sensitive_post_parameters()], name="dispatch")
class AccountsAPIView(SuiteAPIView):
    flow_errors = {FlowError: _from_flow}
    input_serializer: type | None = None

    def valid(self, request):
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def valid_for_live_token(self, request, check) -> dict:
        """``valid()`` for a link's token and what goes with it: a dead token is refused
        (``check(request, token=...)``: ``token_invalid``) before the other fields' errors,
        as on the link's page, and counted once, as the flow's own check is. A token that is
        no text at all is a field error like any other."""
        serializer = self.input_serializer(data=request.data)
        if not serializer.is_valid():
            token = s.TokenSerializer(data=request.data)
            if token.is_valid():
                check(request._request, token=token.validated_data["token"])
            serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def _login_response(result: pipeline.LoginResult) -> Response:
    return Response(result.as_dict(), status=status.HTTP_200_OK)


def _detail(message: str, code=status.HTTP_202_ACCEPTED) -> Response:
    return Response({"detail": message}, status=code)


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

    @extend_schema(request=s.LoginSerializer, responses=s.LoginResultSerializer,
                   summary="Sign in with email and password")
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


class SignupView(AccountsAPIView):
    input_serializer = s.SignupSerializer

    @extend_schema(request=s.SignupSerializer, responses={201: s.LoginResultSerializer},
                   summary="Create an account")
    def post(self, request):
        data = self.valid(request)
        result = signup(request._request, email=data["email"], password=data["password"],
                        name=data["name"])
        if result.login is not None:
            return Response(result.login.as_dict(), status=status.HTTP_201_CREATED)
        return Response(
            {"status": "pending", "stage": "verify_email",
             "message": "Check your inbox for a verification link."},
            status=status.HTTP_201_CREATED,
        )


class ReauthenticateView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.PasswordSerializer

    @extend_schema(request=s.PasswordSerializer, responses=s.AuthRecordSerializer,
                   summary="Confirm the password to unlock sensitive actions")
    def post(self, request):
        data = self.valid(request)
        login_flows.reauthenticate(request._request, password=data["password"])
        return Response(authrecord.record_public(request._request))


class ReauthenticateLinkView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={202: s.DetailSerializer, 409: error(
                       "The account has a password: confirm with it (`use_password`).")},
                   summary="Email a link that confirms it is you, for an account without a "
                           "password; it works in this session only")
    def post(self, request):
        magic_flows.reauthentication_link_request(request._request)
        return _detail("A link to confirm it is you is on its way.")


class ReauthenticateLinkConfirmView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.TokenSerializer

    @extend_schema(request=s.TokenSerializer, responses=s.AuthRecordSerializer,
                   summary="Confirm it is you with the token from that link")
    def post(self, request):
        data = self.valid(request)
        return Response(magic_flows.reauthenticate_by_link(request._request, token=data["token"]))


class MagicLinkRequestView(AccountsAPIView):
    input_serializer = s.EmailSerializer

    @extend_schema(request=s.EmailSerializer, responses={202: s.DetailSerializer},
                   summary="Email a sign-in link (same answer whether or not the account exists)")
    def post(self, request):
        data = self.valid(request)
        magic_flows.magic_link_request(request._request, email=data["email"])
        return _detail("If an account uses this address, a sign-in link is on its way.")


class MagicLinkConfirmView(AccountsAPIView):
    input_serializer = s.TokenSerializer

    @extend_schema(request=s.TokenSerializer, responses=s.LoginResultSerializer,
                   summary="Sign in with the token from a magic link")
    def post(self, request):
        data = self.valid(request)
        return _login_response(magic_flows.magic_link_login(request._request, token=data["token"]))


class EmailVerifyView(AccountsAPIView):
    input_serializer = s.EmailVerifySerializer

    @extend_schema(request=s.EmailVerifySerializer,
                   responses={200: s.DetailSerializer, 409: error(
                       "Another account holds this address (`email_in_use`).")},
                   summary="Verify an email address with the token from its link (and the "
                           "account's password, unless signed in as the account)")
    def post(self, request):
        data = self.valid_for_live_token(request, email_flows.email_verify_check)
        email_flows.email_verify(request._request, token=data["token"],
                                 password=data.get("password", ""))
        return _detail("The address is verified.", status.HTTP_200_OK)


class EmailListView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.NewEmailSerializer

    @extend_schema(responses=s.EmailAddressSerializer(many=True), summary="List your addresses")
    def get(self, request):
        rows = EmailAddress.objects.filter(user=request.user)
        return Response(s.EmailAddressSerializer(rows, many=True).data)

    @extend_schema(request=s.NewEmailSerializer, responses={202: s.DetailSerializer},
                   summary="Add an address (a verification link is sent)")
    def post(self, request):
        data = self.valid(request)
        email_flows.email_add(request._request, user=request.user, email=data["email"])
        return _detail("A verification link is on its way to this address.")


class EmailDetailView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: error("No such address (`email_not_found`).")},
                   summary="Remove an address")
    def delete(self, request, pk: int):
        email_flows.email_remove(request._request, user=request.user, address_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailPrimaryView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None,
                   responses={200: s.DetailSerializer,
                              404: error("No such address (`email_not_found`)."),
                              409: error("Another account holds this address (`email_in_use`).")},
                   summary="Make a verified address the sign-in address")
    def post(self, request, pk: int):
        email_flows.email_make_primary(request._request, user=request.user, address_id=pk)
        return _detail("The sign-in address is changed.", status.HTTP_200_OK)


class EmailResendView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={
        202: s.DetailSerializer, 404: error("No such address (`email_not_found`)."),
        409: error("The address is verified already (`email_already_verified`).")},
        summary="Send a new verification link to an unverified address")
    def post(self, request, pk: int):
        address = EmailAddress.objects.filter(user=request.user, pk=pk).first()
        if address is None:
            raise FlowError(AccountsError.EMAIL_NOT_FOUND, "No such address.")
        if address.verified:
            raise FlowError(AccountsError.EMAIL_ALREADY_VERIFIED,
                            "This address is verified already.")
        email_flows.verification_resend(request._request, user=request.user, email=address.email)
        return _detail("A new verification link is on its way.")


class PasswordChangeView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]
    input_serializer = s.PasswordChangeSerializer

    @extend_schema(request=s.PasswordChangeSerializer, responses=s.DetailSerializer,
                   summary="Change the password (ends every other session)")
    def post(self, request):
        data = self.valid(request)
        password_flows.password_change(
            request._request, user=request.user,
            current_password=data.get("current_password", ""), new_password=data["new_password"],
        )
        return _detail("The password is changed.", status.HTTP_200_OK)


class PasswordResetView(AccountsAPIView):
    input_serializer = s.EmailSerializer

    @extend_schema(request=s.EmailSerializer, responses={202: s.DetailSerializer},
                   summary="Email a password-reset link (same answer either way)")
    def post(self, request):
        data = self.valid(request)
        password_flows.password_reset_request(request._request, email=data["email"])
        return _detail("If an account uses this address, a reset link is on its way.")


class PasswordResetConfirmView(AccountsAPIView):
    input_serializer = s.ResetConfirmSerializer

    @extend_schema(request=s.ResetConfirmSerializer, responses=s.DetailSerializer,
                   summary="Set a new password with a reset token (does not sign in)")
    def post(self, request):
        data = self.valid_for_live_token(request, password_flows.password_reset_check)
        password_flows.password_reset_complete(
            request._request, token=data["token"], new_password=data["new_password"]
        )
        return _detail("The password is changed. Sign in with it.", status.HTTP_200_OK)


class PasswordRequiredView(AccountsAPIView):
    input_serializer = s.NewPasswordSerializer

    @extend_schema(request=s.NewPasswordSerializer,
                   responses={200: s.LoginResultSerializer, 409: error(
                       "No sign-in is waiting for this step (`no_login_pending`).")},
                   summary="Login stage: choose the new password staff asked for")
    def post(self, request):
        data = self.valid(request)
        state = pipeline.state_get(request._request)
        user = state.user() if state else None
        stage = pipeline.stage_current(request._request)
        # Only as the sign-in's current step: never while an earlier stage (MFA) still waits.
        if user is None or stage is None or stage.key != "password_change_required":
            raise FlowError(AccountsError.NO_LOGIN_PENDING, "No sign-in is waiting for this step.")
        password_flows.password_required_change(
            request._request, user=user, new_password=data["new_password"]
        )
        result = pipeline.stage_passed(request._request, "password_change_required")
        return _login_response(result)


class SessionListView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.UserSessionSerializer(many=True), summary="Your active sessions")
    def get(self, request):
        current = sessions.current_session_id(request._request)
        rows = sessions.sessions_alive(request.user)
        data = [
            {"id": r.pk, "device": r.device, "ip": r.ip, "created_at": r.created_at,
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
            raise FlowError(AccountsError.SESSION_NOT_FOUND, "No such session.")
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
        return _detail(f"{count} sessions ended.", status.HTTP_200_OK)


class SessionEndAllView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None, responses={204: None},
                   summary="End every session, this one included (sign out everywhere)")
    def post(self, request):
        sessions.sessions_end(request.user, request=request._request, reason="user")
        login_flows.logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountExportView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict}, summary="Export your account data")
    def get(self, request):
        return Response(account_flows.account_export(user=request.user))


class AccountCloseView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None, responses={204: None}, summary="Close your account")
    def post(self, request):
        account_flows.account_close(request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
