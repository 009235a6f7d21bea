"""JSON API of the MFA flows."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts import authrecord, pipeline
from accounts.api.serializers import (
    AuthRecordSerializer,
    LoginResultSerializer,
    StrictBooleanField,
    StringField,
)
from accounts.api.views.base import IsRecentlyAuthenticated, _from_flow
from accounts.errors import FlowError
from authsuite.api.schema import error, extend_schema
from authsuite.api.views import SuiteAPIView
from authsuite.text import control_characters_message, has_control_characters
from authsuite.views import render_confidential
from mfa import devices, flows, policy, trust
from mfa.errors import MFAError

#: The account's login address is not verified yet: no factor is added to it.
UNPROVEN_ADDRESS = ("Verify the account's email address first (`email_unverified`): no factor "
                    "is added to an account whose address is unproven.")
NOT_ENROLLED = "The account has no authenticator app (`mfa_not_enrolled`)."


class CodeField(StringField):
    """A code is text: a JSON number is refused, not converted (a leading zero would be
    lost), and so is any control character."""

    refuses_control_characters = True  # the schema's pattern says so

    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if has_control_characters(value):
            raise serializers.ValidationError(control_characters_message(value), code="invalid")
        return value


class CodeSerializer(serializers.Serializer):
    code = CodeField()


class ChallengeSerializer(CodeSerializer):
    trust_browser = StrictBooleanField(
        default=False,
        help_text="Don't ask this browser for a second factor at sign-in for "
                  "AUTHSUITE_MFA_TRUST_BROWSER_DAYS. Sensitive changes (removing a factor, "
                  "changing the password or email address) still ask for it.")


class StatusSerializer(serializers.Serializer):
    totp = serializers.BooleanField()
    totp_created_at = serializers.DateTimeField(allow_null=True)
    totp_last_used_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_remaining = serializers.IntegerField()
    required = serializers.BooleanField()
    grace_ends = serializers.DateTimeField(allow_null=True)


class SetupSerializer(serializers.Serializer):
    otpauth_uri = serializers.CharField()
    secret = serializers.CharField()
    qr_svg = serializers.CharField()


class RemainingSerializer(serializers.Serializer):
    remaining = serializers.IntegerField()


class CodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class ActivatedSerializer(CodesSerializer):
    login = LoginResultSerializer(required=False, allow_null=True,
                                  help_text="The sign-in's next step, when enrolling as one.")


CHALLENGE_RESULT = PolymorphicProxySerializer(
    component_name="MFAChallengeResult",
    serializers=[LoginResultSerializer, AuthRecordSerializer],
    resource_type_field_name=None,
)


class TrustedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


def _pending_enrollment(request):
    """The pending sign-in's user when its current stage is the mandatory enrollment."""
    state = pipeline.state_get(request._request)
    user = state.user() if state else None
    stage = pipeline.stage_current(request._request) if user is not None else None
    # Only as the sign-in's current step, never in place of a factor the user has.
    if stage is not None and stage.key == "mfa_enroll":
        return user
    return None


class CanEnroll(BasePermission):
    """A recently authenticated user, or a sign-in waiting for its mandatory enrollment."""

    message = "Sign in (or confirm your password) first."

    def has_permission(self, request, view):
        if request.user.is_authenticated:
            if not IsRecentlyAuthenticated().has_permission(request, view):
                return False
            view.enrolling_user = request.user
            return True
        view.enrolling_user = _pending_enrollment(request)
        return view.enrolling_user is not None


# Posted form fields are hidden from error reports by SuiteAPIView itself.
@method_decorator(never_cache, name="dispatch")
class MFAAPIView(SuiteAPIView):
    """Base of the MFA endpoints: flow errors leave in the suite's envelope."""

    flow_errors = {FlowError: _from_flow}

    # Hidden whole: DRF's validation beneath holds the posted code under names of its own.
    @sensitive_variables()
    def data(self, request, serializer_class):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ConfidentialAnswerMixin:
    """For an endpoint whose answer holds a secret (an authenticator app's key, recovery
    codes): the answer is rendered as the view finishes, under
    :func:`authsuite.views.render_confidential`, rather than by the handler after it."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return render_confidential(response)


class StatusView(MFAAPIView):
    """The signed-in user's second factors and whether one is required of them."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StatusSerializer, summary="Your second factors")
    def get(self, request):
        user = request.user
        device, recovery = devices.totp_device(user), devices.recovery_set(user)
        return Response({
            "totp": device is not None,
            "totp_created_at": device.created_at if device else None,
            "totp_last_used_at": device.last_used_at if device else None,
            "recovery_codes_remaining": recovery.remaining() if recovery else 0,
            "required": policy.is_required(user),
            "grace_ends": policy.grace_ends(user),
        })


class TOTPSetupView(ConfidentialAnswerMixin, MFAAPIView):
    """Start enrolling an authenticator app: a new key, as an otpauth URI and an SVG QR code.

    A signed-in user needs a recent authentication; a sign-in waiting for its mandatory
    enrollment may call it too."""

    permission_classes = [CanEnroll]

    @extend_schema(request=None, responses={
                       200: SetupSerializer,
                       400: error("An authenticator app is on already (`mfa_already_enrolled`)."),
                       403: error(UNPROVEN_ADDRESS)},
                   summary="Start enrolling an authenticator app (returns the key and QR code)")
    def post(self, request):
        user = self.enrolling_user
        setup = (flows.totp_setup_pending(request._request, user=user)
                 or flows.totp_setup_begin(request._request, user=user))
        return Response({"otpauth_uri": setup.uri, "secret": setup.secret, "qr_svg": setup.svg})


class TOTPActivateView(ConfidentialAnswerMixin, MFAAPIView):
    """Turn the pending authenticator app on with a valid code."""

    permission_classes = [CanEnroll]

    @extend_schema(request=CodeSerializer, responses={
                       200: ActivatedSerializer,
                       400: error("The code is wrong (`mfa_code_invalid`), or no setup of this "
                                  "session waits for it (`mfa_no_pending_setup`)."),
                       403: error(UNPROVEN_ADDRESS)},
                   summary="Turn the app on with a valid code (returns recovery codes once)")
    @sensitive_variables("data", "codes", "body")
    def post(self, request):
        data = self.data(request, CodeSerializer)
        user = self.enrolling_user
        codes = flows.totp_activate(request._request, user=user, code=data["code"])
        body = {"recovery_codes": codes}
        if request.user.is_authenticated:
            authrecord.record_step_up(request._request, ["otp"])
        else:
            result = pipeline.stage_passed(request._request, "mfa_enroll", amr=["otp"],
                                           also_done=("mfa",))
            body["login"] = result.as_dict() if result else None
        return Response(body, status=status.HTTP_200_OK)


class TOTPDeleteView(MFAAPIView):
    """Remove the authenticator app (needs a recent authentication)."""

    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(responses={204: None, 400: error(NOT_ENROLLED)},
                   summary="Remove the authenticator app")
    def delete(self, request):
        flows.totp_remove(request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChallengeView(MFAAPIView):
    """The second-factor stage of a sign-in, or a step-up for a signed-in user."""

    @extend_schema(request=ChallengeSerializer, responses={
                       200: CHALLENGE_RESULT,
                       400: error("The code is wrong (`mfa_code_invalid`), or a code after a "
                                  "passkey sign-in without user verification, one kind of "
                                  "factor twice (`mfa_not_second_factor`)."),
                       429: error("Too many wrong codes: wait (`mfa_throttled`), or the second "
                                  "factor is locked for a while (`mfa_locked`)."),
                       409: error(
                       "No sign-in is waiting for a second factor (`no_login_pending`).")},
                   summary="Pass the second-factor stage of a sign-in (or step up)",
                   description="During a sign-in: its next step (or `authenticated`). For a "
                               "signed-in user (step-up): the refreshed authentication record.")
    @sensitive_variables("data")
    def post(self, request):
        data = self.data(request, ChallengeSerializer)
        django_request = request._request
        if pipeline.state_get(django_request) is None and request.user.is_authenticated:
            flows.step_up(django_request, user=request.user, code=data["code"])
            return Response(authrecord.record_public(django_request))
        result = flows.challenge(django_request, code=data["code"])
        response = Response(result.as_dict())
        if result.complete and data["trust_browser"]:
            trust.trust_issue(django_request, response, result.user)
        return response


class RecoveryCodesView(ConfidentialAnswerMixin, MFAAPIView):
    """Recovery codes: how many remain, or a new set (needs a recent authentication)."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsRecentlyAuthenticated()]
        return [IsAuthenticated()]

    @extend_schema(responses=RemainingSerializer, summary="How many recovery codes remain")
    def get(self, request):
        recovery = devices.recovery_set(request.user)
        return Response({"remaining": recovery.remaining() if recovery else 0})

    @extend_schema(request=None, responses={200: CodesSerializer, 400: error(NOT_ENROLLED)},
                   summary="Replace the recovery codes (returns the new ones once)")
    @sensitive_variables("codes")
    def post(self, request):
        codes = flows.recovery_regenerate(request._request, user=request.user)
        return Response({"recovery_codes": codes})


class TrustedListView(MFAAPIView):
    """Browsers where the user chose "don't ask again"."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=TrustedSerializer(many=True), summary="Your trusted browsers")
    def get(self, request):
        rows = trust.trusted_list(request.user)
        return Response(TrustedSerializer(rows, many=True).data)


class TrustedDetailView(MFAAPIView):
    """Stop trusting one browser."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: error(
                       "No such browser (`mfa_trusted_browser_not_found`).")},
                   summary="Stop trusting a browser")
    def delete(self, request, pk: int):
        if not trust.trust_revoke(request.user, request=request._request, trusted_id=pk):
            raise FlowError(MFAError.TRUSTED_BROWSER_NOT_FOUND, _("No such browser."),
                            status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)
