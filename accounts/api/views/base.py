"""What the accounts API views share: the base view, flow errors as API errors, recent authentication."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts import authrecord, pipeline
from accounts.api import serializers as s
from accounts.errors import FlowError
from authsuite.api.errors import APIError, CoreError
from authsuite.api.schema import api_path, error
from authsuite.api.views import SuiteAPIView, api_error

#: The answer of an operation that sets a new password, when the breach check cannot be made.
CHECK_UNAVAILABLE = error(
    "The new password could not be checked against known data breaches (the service was "
    "unavailable) and the site refuses passwords it cannot check "
    "(`password_check_unavailable`; `fields` names the field): the same password may be "
    "accepted in a moment.")

# The codes an operation answers besides the common ones, by the check that gives them. Each
# operation names its own in its responses (``error()``): the schema merges them with the
# common codes of the same status.
TOKEN_INVALID = "The link's token is unknown, used or expired (`token_invalid`)."
PASSWORD_REFUSED = ("The new password is one the password policy refuses (`password_invalid`; "
                    "`message` says why, `fields` names the field).")
NEW_ADDRESS = ("The address's domain mixes scripts so that it could pass for another "
               "(`email_mixed_script`).")
#: The lockout of a password check (the sign-in's, the current password's).
PASSWORD_PAUSED = error("The account's password is paused after too many failed attempts "
                        "in a row (`password_blocked`): sign in another way, or reset it.")
LOCKED = error("The account is locked for a while after failed attempts (`account_locked`; "
               "`Retry-After` says for how long).")
LINKS_OFF = "Emailed sign-in links are turned off (`magic_link_disabled`)."


def _from_flow(error: FlowError) -> APIError:
    return api_error(
        error.code, error.message, status=error.status, field=error.field,
        messages=error.messages, retry_after=error.retry_after,
    )


def _endpoints() -> dict[str, str]:
    return {"reauthenticate": api_path("reauthenticate", "/api/auth/v1/reauthenticate/"),
            "challenge": api_path("mfa_challenge", "/api/auth/v1/mfa/challenge/")}


class IsRecentlyAuthenticated(BasePermission):
    """Sensitive actions: the session must have authenticated within the reauth timeout,
    or within the view's ``reauthentication_max_age`` when it sets one."""

    # Lazy: in the language of the request refused, as every message of the API.
    # The endpoints are named where the project serves them (its prefix, language, script
    # prefix), read when refused: a client follows the path the message gives.
    message = gettext_lazy("Confirm it is you first (POST %(reauthenticate)s with "
                           "your password, or with a passkey or an emailed link).")
    second_factor_message = gettext_lazy(
        "Confirm your second factor too (POST %(challenge)s with a code, or "
        "reauthenticate with a passkey).")
    unavailable_message = gettext_lazy(
        "Your account has no second factor you can use now: a passkey disabled for safety "
        "cannot confirm it is you, and there is no unused recovery code. Ask staff to reset "
        "two-step verification.")

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
            # Told apart by code: a client that answered the first refusal with the
            # password, refused again for the second factor, knows not to ask for it again.
            if due:
                raise APIError(self.second_factor_message % _endpoints(),
                               CoreError.SECOND_FACTOR_REQUIRED, status_code=403)
            raise APIError(self.message % _endpoints(), CoreError.REAUTHENTICATION_REQUIRED,
                           status_code=403)
        return True


# Posted form fields are hidden from error reports by SuiteAPIView itself.
@method_decorator(never_cache, name="dispatch")
class AccountsAPIView(SuiteAPIView):
    flow_errors = {FlowError: _from_flow}
    input_serializer: type | None = None

    # Hidden whole: the serializer and DRF's validation beneath hold the posted data (a
    # password, a link's token) under names of their own.
    @sensitive_variables()
    def valid(self, request):
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @sensitive_variables()
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
