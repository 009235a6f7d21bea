"""The account's addresses over the API: list, add, remove, make primary, resend, verify."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.api import serializers as s
from accounts.api.views.base import (
    LOCKED,
    NEW_ADDRESS,
    PASSWORD_PAUSED,
    TOKEN_INVALID,
    AccountsAPIView,
    IsRecentlyAuthenticated,
    _detail,
)
from accounts.errors import AccountsError, FlowError
from accounts.flows import email as email_flows
from accounts.models import EmailAddress
from authsuite.api.schema import error, extend_schema


class EmailVerifyView(AccountsAPIView):
    input_serializer = s.EmailVerifySerializer

    @extend_schema(request=s.EmailVerifySerializer,
                   responses={200: s.DetailSerializer,
                              400: error(f"{TOKEN_INVALID} Not signed in as the account: its "
                                         "password is missing (`password_required`) or wrong "
                                         "(`invalid_credentials`; `password_incorrect` for an "
                                         "account without a login address, whose password "
                                         "is checked as a reauthentication's)."),
                              403: error("An address other than the login address of an "
                                         "account without a password, from a browser not "
                                         "signed in as it (`sign_in_required`). "
                                         + PASSWORD_PAUSED.description),
                              409: error("Another account holds this address (`email_in_use`)."),
                              429: LOCKED},
                   summary="Verify an email address with the token from its link (and the "
                           "account's password, unless signed in as the account)")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid_for_live_token(request, email_flows.email_verify_check)
        email_flows.email_verify(request._request, token=data["token"],
                                 password=data.get("password", ""))
        return _detail(_("The address is verified."), status.HTTP_200_OK)


class EmailListView(AccountsAPIView):
    permission_classes = [IsAuthenticated]
    input_serializer = s.NewEmailSerializer

    @extend_schema(responses=s.EmailAddressSerializer(many=True), summary="List your addresses")
    def get(self, request):
        rows = EmailAddress.objects.filter(user=request.user)
        return Response(s.EmailAddressSerializer(rows, many=True).data)

    @extend_schema(request=s.NewEmailSerializer, responses={
                       202: s.DetailSerializer,
                       400: error("The address is this account's already, in any spelling "
                                  "(`email_already_added`; nothing is sent and no attempt of "
                                  "the rate limit is counted), the list is full "
                                  "(`email_limit`), or the address is not one (`invalid`). "
                                  + NEW_ADDRESS)},
                   summary="Add an address (a verification link is sent)",
                   description="An address another account holds is answered like any "
                               "other (202): its owner is told, and this account gets an "
                               "unverified claim it cannot verify.")
    def post(self, request):
        data = self.valid(request)
        email_flows.email_add(request._request, user=request.user, email=data["email"])
        return _detail(_("A verification link is on its way to this address."))


class EmailDetailView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None,
                              400: error("The login address cannot be removed "
                                         "(`email_primary`)."),
                              404: error("No such address (`email_not_found`).")},
                   summary="Remove an address")
    def delete(self, request, pk: int):
        email_flows.email_remove(request._request, user=request.user, address_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailPrimaryView(AccountsAPIView):
    permission_classes = [IsRecentlyAuthenticated]

    @extend_schema(request=None,
                   responses={200: s.DetailSerializer,
                              400: error("The address is not verified (`email_unverified`)."),
                              404: error("No such address (`email_not_found`)."),
                              409: error("Another account holds this address (`email_in_use`).")},
                   summary="Make a verified address the sign-in address")
    def post(self, request, pk: int):
        email_flows.email_make_primary(request._request, user=request.user, address_id=pk)
        return _detail(_("The sign-in address is changed."), status.HTTP_200_OK)


class EmailResendView(AccountsAPIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={
        202: s.DetailSerializer, 404: error("No such address (`email_not_found`)."),
        409: error("The address is verified already (`email_already_verified`).")},
        summary="Send a new verification link to an unverified address")
    def post(self, request, pk: int):
        address = EmailAddress.objects.filter(user=request.user, pk=pk).first()
        if address is None:
            raise FlowError(AccountsError.EMAIL_NOT_FOUND, _("No such address."))
        if address.verified:
            raise FlowError(AccountsError.EMAIL_ALREADY_VERIFIED,
                            _("This address is verified already."))
        email_flows.verification_resend(request._request, user=request.user, email=address.email)
        return _detail(_("A new verification link is on its way."))
