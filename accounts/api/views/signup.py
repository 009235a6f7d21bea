"""Sign-up over the API."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import status
from rest_framework.response import Response

from accounts.api import serializers as s
from accounts.api.views.base import (
    CHECK_UNAVAILABLE,
    NEW_ADDRESS,
    PASSWORD_REFUSED,
    AccountsAPIView,
)
from accounts.flows.signup import signup
from authsuite.api.schema import error, extend_schema


class SignupView(AccountsAPIView):
    input_serializer = s.SignupSerializer

    @extend_schema(request=s.SignupSerializer, responses={
                       201: s.LoginResultSerializer,
                       400: error(f"{NEW_ADDRESS} {PASSWORD_REFUSED}"),
                       403: error("Sign-up is closed (`signup_closed`)."),
                       503: CHECK_UNAVAILABLE},
                   summary="Create an account")
    @sensitive_variables("data")
    def post(self, request):
        data = self.valid(request)
        result = signup(request._request, email=data["email"], password=data["password"],
                        name=data["name"])
        if result.login is not None:
            return Response(result.login.as_dict(), status=status.HTTP_201_CREATED)
        return Response(
            {"status": "pending", "stage": "verify_email",
             "message": _("Check your inbox for a verification link.")},
            status=status.HTTP_201_CREATED,
        )
