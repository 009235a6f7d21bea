"""One error envelope for the whole JSON API.

Every error response is ``{"error": {"code": str, "message": str, "fields": {name: [msg]}}}``
with a code that clients may rely on. Codes are members of a ``StrEnum`` per app; the core
codes below cover what DRF and Django raise on their own.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from authsuite.context import body_refused
from authsuite.logs import one_line

logger = logging.getLogger("authsuite.api")


class CoreError(StrEnum):
    INVALID = "invalid"
    MALFORMED = "malformed_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "request_too_large"
    CSRF_FAILED = "csrf_failed"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    #: The password (or link) is recent enough; the second factor is not: a code or a
    #: passkey now, not the password again.
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    #: The second factor is due and the account has none it can prove (only a passkey
    #: flagged as cloned, no recovery code left): staff must reset two-step verification.
    SECOND_FACTOR_UNAVAILABLE = "second_factor_unavailable"
    #: A failure of the server's own (a bug, a database gone): 500, logged with its traceback.
    SERVER_ERROR = "server_error"


class APIError(exceptions.APIException):
    """An API error with a stable code; subclass or raise with ``code=``."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The request could not be processed.")
    default_code = CoreError.INVALID

    def __init__(self, detail=None, code=None, *, status_code=None, fields=None, headers=None):
        super().__init__(detail, code)
        self.error_code = str(code or self.default_code)
        self.fields = fields or {}
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class RateLimited(APIError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _("Too many attempts. Try again later.")
    default_code = CoreError.RATE_LIMITED

    def __init__(self, retry_after: int, detail=None):
        super().__init__(detail, headers={"Retry-After": str(max(int(retry_after), 1))})
        self.retry_after = max(int(retry_after), 1)


_DRF_CODES = {
    exceptions.ParseError: CoreError.MALFORMED,
    exceptions.UnsupportedMediaType: CoreError.UNSUPPORTED_MEDIA_TYPE,
    exceptions.NotAuthenticated: CoreError.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: CoreError.NOT_AUTHENTICATED,
    exceptions.PermissionDenied: CoreError.PERMISSION_DENIED,
    exceptions.NotFound: CoreError.NOT_FOUND,
    exceptions.MethodNotAllowed: CoreError.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: CoreError.NOT_ACCEPTABLE,
    exceptions.Throttled: CoreError.RATE_LIMITED,
}


#: What a client refused by the CSRF check is told (the pages' and the API's alike).
CSRF_MESSAGE = gettext_noop("CSRF verification failed. Reload and try again.")

def null_body_message() -> str:
    """DRF's message for a list or a string where an object was expected, in the client's
    language (DRF's catalogues translate it), naming ``null``."""
    from rest_framework.serializers import Serializer

    return str(Serializer.default_error_messages["invalid"]).format(datatype="null")


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _field_errors(detail) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {}
    return {str(name): _flatten(value) for name, value in detail.items()}


def _first_code(detail) -> str | None:
    codes = detail.get_codes() if hasattr(detail, "get_codes") else None
    while isinstance(codes, dict | list):
        if not codes:
            return None
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return codes


def _field_code(detail) -> tuple[str, str] | None:
    """The first field error whose code is one of the suite's own (``email_mixed_script``
    from a field's validator), with its message: it says more than ``invalid`` does, and a
    client may rely on it as on a flow's code. DRF's own codes (``required``, ``blank``,
    ``max_length``) are no stable codes of the API: those stay ``invalid``."""
    from authsuite.api.schema import error_code_set  # the schema's module imports this one

    own = error_code_set() - {CoreError.INVALID}
    stack = [detail]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            stack[:0] = list(item.values())
        elif isinstance(item, list):
            stack[:0] = item
        elif getattr(item, "code", None) in own:
            return str(item.code), str(item)
    return None


def _signal_denial(code: str, context: dict, detail: str) -> None:
    from authsuite import signals

    view_request = context.get("request")
    request = getattr(view_request, "_request", view_request)
    if request is None:
        return
    path = request.path[:200]
    if code == CoreError.CSRF_FAILED:
        signals.csrf_failed.send(sender=None, request=request, path=path, reason=detail[:200])
    elif code == CoreError.PERMISSION_DENIED:
        signals.permission_denied.send(sender=None, request=request, path=path)


def envelope(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": str(code), "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: every error leaves in the suite's envelope."""
    if (reason := body_refused(exc)) is not None:  # too many fields or files, too large
        exc = APIError(reason, CoreError.TOO_LARGE, status_code=413)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, APIError):
        body = envelope(exc.error_code, str(exc.detail), exc.fields)
        for name, value in exc.headers.items():
            response[name] = value
    elif isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else gettext("Some fields are invalid.")
        code = _first_code(exc) if non_field else CoreError.INVALID
        if not non_field and (own := _field_code(exc.detail)):
            code, message = own
        if code == "null":
            # A JSON ``null`` body: a wrong shape like any other, and said as DRF says the
            # others (its own words for it, "No data provided", are untrue: null was sent).
            code, message = CoreError.INVALID, null_body_message()
        body = envelope(code or CoreError.INVALID, message, fields)
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = CoreError.INVALID
        if code == CoreError.PERMISSION_DENIED and "CSRF" in str(exc.detail):
            code = CoreError.CSRF_FAILED
        _signal_denial(code, context, str(exc.detail))
        message = " ".join(_flatten(exc.detail))
        if code == CoreError.CSRF_FAILED:
            # DRF's words ("CSRF Failed: CSRF cookie not set.") are Django's reason, in
            # English and about a cookie a client may never have had (CSRF_USE_SESSIONS):
            # the reason goes to the audit trail, the client is told what to do, in its
            # language, as by ``authsuite.views.csrf_failure``.
            message = gettext(CSRF_MESSAGE)
        body = envelope(code, message)
    response.data = body
    _log_refusal(context, response, body["error"]["code"])
    return response


def _log_refusal(context: dict, response, code: str) -> None:
    """A refusal in the envelope is the client's error (a wrong password, a code mistyped,
    a body of the wrong shape), as a form shown again with its errors is on a page: an
    INFO line on ``authsuite.api`` with its code, and not Django's WARNING on
    ``django.request`` for every 4xx, which would page someone for each wrong password.
    What matters for security is in the audit trail (failed sign-ins, rate limits, CSRF
    failures). A server's own failure (5xx) is not handled here and stays an ERROR."""
    view_request = context.get("request")
    request = getattr(view_request, "_request", view_request)
    if request is None or not 400 <= response.status_code < 500:
        return
    logger.info("api: %s %s refused: %s %s", request.method, one_line(request.path, 200),
                response.status_code, code)
    # The mark django.utils.log.log_response reads: this response is logged already.
    response._has_been_logged = True
