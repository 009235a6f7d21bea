"""JSON API of the passkey ceremonies; the page script uses it too."""

from __future__ import annotations

from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import authrecord
from accounts.api.serializers import (
    AuthRecordSerializer,
    DetailSerializer,
    EmailField,
    LoginResultSerializer,
    NoControlCharsMixin,
    StringField,
)
from accounts.api.views.base import IsRecentlyAuthenticated, _from_flow
from accounts.app_settings import app_settings as accounts_settings
from accounts.errors import FlowError
from authsuite.api.schema import error, extend_schema
from authsuite.api.views import SuiteAPIView
from authsuite.urls_util import safe_next
from passkeys import flows
from passkeys.errors import PasskeyError
from passkeys.models import Passkey

NO_SECOND_FACTOR_PENDING = error("No sign-in is waiting for a second factor (`no_login_pending`).")
NO_SUCH_PASSKEY = error("No such passkey (`passkey_not_found`).")
# The refusals of a ceremony's verification, by the ceremony.
VERIFY_FAILED = ("The credential does not verify (`passkey_invalid`), or no ceremony of this "
                 "session waits for it (`passkey_challenge_missing`).")
ASSERTION_FAILED = (f"{VERIFY_FAILED} The passkey is not one the site knows "
                    "(`passkey_unknown_credential`), or it is disabled as cloned "
                    "(`passkey_cloned`).")
FULL = "The account has as many passkeys as it may (`passkey_limit`)."
UNPROVEN_ADDRESS = error("Verify the account's email address first (`email_unverified`): no "
                         "passkey is added to an account whose address is unproven.")
SIGNUP_OFF = error("Passkey-only sign-up is turned off (`passkey_signup_disabled`).")
SIGNUP_TOKEN = "The sign-up link's token is unknown, used or expired (`token_invalid`)."


@extend_schema_field({"oneOf": [
    {"type": "object", "additionalProperties": {}},
    {"type": "string", "description": "The same object as JSON text."},
]})
class CredentialField(serializers.JSONField):
    """The authenticator's answer: an object, or that object as JSON text; null is a field
    error, and any other value fails the ceremony like a malformed answer. Documented so: a
    bare JSONField is documented as taking anything, null included."""


# Text fields as strict as the accounts API's: a number is no name, and names and
# addresses hold no control characters.
class CredentialSerializer(NoControlCharsMixin, serializers.Serializer):
    credential = CredentialField(help_text="The PublicKeyCredential in its JSON form "
                                           "(credential.toJSON()).")
    name = StringField(max_length=100, required=False, allow_blank=True, default="")
    next = StringField(max_length=2000, required=False, allow_blank=True, default="")

    def refuses_control_characters_in(self, name: str) -> bool:
        # The credential as JSON text may break lines and indent between its tokens; it is
        # parsed, never shown, and a control character anywhere else is malformed JSON.
        return name != "credential" and super().refuses_control_characters_in(name)


class RenameSerializer(NoControlCharsMixin, serializers.Serializer):
    name = StringField(max_length=100)


class PasskeySerializer(serializers.ModelSerializer):
    provider = serializers.SerializerMethodField()

    class Meta:
        model = Passkey
        fields = ["id", "name", "provider", "created_at", "last_used_at", "backup_eligible",
                  "backup_state", "flagged_at"]

    def get_provider(self, obj) -> str:
        return flows.provider_name(obj.aaguid)


@method_decorator(never_cache, name="dispatch")
class PasskeyAPIView(SuiteAPIView):
    flow_errors = {FlowError: _from_flow}

    # Hidden whole: DRF's validation beneath holds the posted data, a sign-up link's token
    # among it, under names of its own.
    @sensitive_variables()
    def data(self, request, serializer_class=CredentialSerializer):
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class PasskeyLoginResultSerializer(LoginResultSerializer):
    redirect = serializers.CharField(
        help_text="Where the suite's page script goes next: once signed in, the safe `next` "
                  "given, else LOGIN_REDIRECT_URL; while a stage waits, the suite's page of "
                  "that stage (a front end of its own goes by `stage`).")


class PasskeyReauthResultSerializer(AuthRecordSerializer):
    redirect = serializers.CharField(
        help_text="Where the suite's page script goes next: the safe `next` given, else the "
                  "account page.")


def _login_body(request, result) -> dict:
    body = result.as_dict()
    if result.complete:
        body["redirect"] = safe_next(request, result.next_url,
                                     lambda: accounts_settings.LOGIN_REDIRECT_URL)
    else:
        body["redirect"] = result.stage.url()
    return body


class RegisterOptionsView(PasskeyAPIView):
    """Start adding a passkey: creation options for the signed-in user (a recent
    authentication is required); existing passkeys are excluded."""

    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None,
                   responses={200: dict, 400: error(FULL), 403: UNPROVEN_ADDRESS},
                   summary="Options for navigator.credentials.create() (JSON form)")
    def post(self, request):
        return Response(flows.register_options(request._request, user=request.user))


class RegisterView(PasskeyAPIView):
    """Verify the created credential and store the passkey. Errors: passkey_invalid,
    passkey_challenge_missing, passkey_duplicate."""

    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=CredentialSerializer, responses={
                       201: PasskeySerializer,
                       400: error(f"{VERIFY_FAILED} The passkey is registered already "
                                  f"(`passkey_duplicate`). {FULL}"),
                       403: UNPROVEN_ADDRESS},
                   summary="Register the created credential")
    def post(self, request):
        data = self.data(request)
        passkey = flows.register_verify(request._request, user=request.user,
                                        credential=data["credential"], name=data["name"])
        return Response(PasskeySerializer(passkey).data, status=status.HTTP_201_CREATED)


class LoginOptionsView(PasskeyAPIView):
    """Start a usernameless sign-in (also used for autofill): request options without
    allowCredentials."""

    @extend_schema(request=None, responses={200: dict},
                   summary="Options for a usernameless navigator.credentials.get()")
    def post(self, request):
        return Response(flows.login_options(request._request))


class LoginView(PasskeyAPIView):
    """Verify the assertion and sign in; with user verification the sign-in is multi-factor
    and phishing-resistant. Errors: passkey_invalid, passkey_challenge_missing,
    passkey_unknown_credential, passkey_cloned."""

    @extend_schema(request=CredentialSerializer,
                   responses={200: PasskeyLoginResultSerializer, 400: error(ASSERTION_FAILED)},
                   summary="Sign in with a passkey")
    def post(self, request):
        data = self.data(request)
        django_request = request._request
        result = flows.login_verify(django_request, credential=data["credential"],
                                    next_url=safe_next(django_request, data["next"], ""))
        return Response(_login_body(django_request, result))


class SecondFactorOptionsView(PasskeyAPIView):
    """Request options for the pending sign-in's second-factor stage (the user's passkeys
    are allowed)."""

    @extend_schema(request=None, responses={200: dict, 409: NO_SECOND_FACTOR_PENDING},
                   summary="Options for using a passkey as the second factor of a sign-in")
    def post(self, request):
        return Response(flows.second_factor_options(request._request))


class SecondFactorView(PasskeyAPIView):
    """Pass the pending sign-in's second-factor stage with a passkey."""

    @extend_schema(request=CredentialSerializer, responses={
                       200: PasskeyLoginResultSerializer, 409: NO_SECOND_FACTOR_PENDING,
                       400: error(f"{ASSERTION_FAILED} A passkey that would not make the "
                                  "sign-in multi-factor (`passkey_not_second_factor`).")},
                   summary="Pass the second-factor stage with a passkey")
    def post(self, request):
        data = self.data(request)
        result = flows.second_factor_verify(request._request, credential=data["credential"])
        return Response(_login_body(request._request, result))


class ReauthOptionsView(PasskeyAPIView):
    """Request options to confirm the signed-in user's identity with one of their passkeys."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict},
                   summary="Options for confirming your identity with a passkey")
    def post(self, request):
        return Response(flows.reauth_options(request._request, user=request.user))


class ReauthView(PasskeyAPIView):
    """Confirm your identity with a passkey: refreshes the authentication time (sudo mode)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=CredentialSerializer,
                   responses={200: PasskeyReauthResultSerializer,
                              400: error(ASSERTION_FAILED)},
                   summary="Confirm your identity with a passkey (sudo mode)")
    def post(self, request):
        data = self.data(request)
        django_request = request._request
        flows.reauth_verify(django_request, user=request.user, credential=data["credential"])
        return Response({**authrecord.record_public(django_request),
                         # As after the password: the account page, under the site's
                         # script prefix and language, not the server's root.
                         "redirect": safe_next(django_request, data["next"],
                                               lambda: reverse("accounts:profile"))})


class PasskeyListView(PasskeyAPIView):
    """Your passkeys: name, provider, dates, synced or device-bound, flagged."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PasskeySerializer(many=True), summary="Your passkeys")
    def get(self, request):
        return Response(PasskeySerializer(Passkey.objects.filter(user=request.user),
                                          many=True).data)


class PasskeyDetailView(PasskeyAPIView):
    """Rename a passkey, or remove it (recent authentication required; the last way to sign
    in cannot be removed: passkey_last_credential)."""

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsRecentlyAuthenticated()]
        return [IsAuthenticated()]

    @extend_schema(request=RenameSerializer, responses={200: PasskeySerializer, 404: NO_SUCH_PASSKEY},
                   summary="Rename a passkey")
    def patch(self, request, pk: int):
        if pk > 2**63 - 1 or not Passkey.objects.filter(user=request.user, pk=pk).exists():
            raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
        data = self.data(request, RenameSerializer)
        passkey = flows.passkey_rename(request._request, user=request.user, passkey_id=pk,
                                       name=data["name"])
        return Response(PasskeySerializer(passkey).data)

    @extend_schema(responses={204: None, 404: NO_SUCH_PASSKEY, 400: error(
                       "The last way to sign in cannot be removed (`passkey_last_credential`).")},
                   summary="Remove a passkey")
    def delete(self, request, pk: int):
        if pk > 2**63 - 1:
            raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
        flows.passkey_remove(request._request, user=request.user, passkey_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignupRequestSerializer(NoControlCharsMixin, serializers.Serializer):
    email = EmailField(new=True, max_length=254)
    name = StringField(max_length=150, required=False, allow_blank=True, default="")


class SignupTokenSerializer(serializers.Serializer):
    """The sign-up link: its ``token``, or, from the suite's page, the ``link`` reference
    of the one the browser's session kept when the page was opened."""

    token = StringField(max_length=128, required=False, default="",
                        help_text="The token of the mailed link.")
    link = StringField(max_length=128, required=False, default="",
                       help_text="Instead of `token`, from the suite's sign-up page only: the "
                                 "page's reference to the link its browser's session keeps.")

    def validate(self, attrs):
        if not attrs["token"] and not attrs["link"]:
            raise serializers.ValidationError(
                {"token": serializers.Field.default_error_messages["required"]},
                code="required")
        return attrs


class SignupCompleteSerializer(SignupTokenSerializer, CredentialSerializer):
    pass


class SignupRequestView(PasskeyAPIView):
    """Passkey-only sign-up, step one: the address; a link is mailed (same answer whether or
    not the address has an account)."""

    @extend_schema(request=SignupRequestSerializer, responses={
                       202: DetailSerializer, 403: SIGNUP_OFF,
                       400: error("The address's domain mixes scripts so that it could pass for "
                                  "another (`email_mixed_script`).")},
                   summary="Start a passkey-only sign-up (a link is mailed)")
    def post(self, request):
        from passkeys import signup

        data = self.data(request, SignupRequestSerializer)
        signup.signup_request(request._request, email=data["email"], name=data["name"])
        return Response({"detail": _("Check your inbox for a link to create your passkey.")},
                        status=status.HTTP_202_ACCEPTED)


class SignupOptionsView(PasskeyAPIView):
    """Passkey-only sign-up, step two: creation options for the token from the mailed link."""

    @extend_schema(request=SignupTokenSerializer,
                   responses={200: dict, 400: error(SIGNUP_TOKEN), 403: SIGNUP_OFF},
                   summary="Creation options for the sign-up link's passkey")
    @sensitive_variables("data")
    def post(self, request):
        from passkeys import signup

        data = self.data(request, SignupTokenSerializer)
        return Response(signup.signup_options(request._request, token=data["token"],
                                              link=data["link"]))


class SignupCompleteView(PasskeyAPIView):
    """Passkey-only sign-up, step three: store the passkey, verify the address, activate the
    account and sign in."""

    @extend_schema(request=SignupCompleteSerializer, responses={
                       200: PasskeyLoginResultSerializer, 403: SIGNUP_OFF,
                       400: error(f"{SIGNUP_TOKEN} {VERIFY_FAILED} The passkey is registered "
                                  "already (`passkey_duplicate`).")},
                   summary="Create the passkey, activate the account and sign in")
    @sensitive_variables("data")
    def post(self, request):
        from passkeys import signup

        data = self.data(request, SignupCompleteSerializer)
        result = signup.signup_complete(request._request, token=data["token"], link=data["link"],
                                        credential=data["credential"], name=data["name"])
        return Response(_login_body(request._request, result))
