"""The account itself over the API: export and close."""

from __future__ import annotations

from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.api.views.base import AccountsAPIView, IsRecentlyAuthenticated
from accounts.flows import account as account_flows
from authsuite.api.schema import extend_schema


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
