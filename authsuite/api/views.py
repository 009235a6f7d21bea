"""Base class of every suite API view."""

from __future__ import annotations

from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from authsuite.api.errors import APIError, exception_handler
from authsuite.api.parsers import JSONParser
from authsuite.api.schema import SuiteAutoSchema


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, whatever the project's ``DEFAULT_CONTENT_NEGOTIATION_CLASS``, with
    its bounds (the ``Accept`` header's first 8192 characters, cut at a comma; its first 64
    media ranges; a range over 256 characters skipped), where an ``Accept`` that names no
    media range at all (empty, or blanks and commas only) counts as none: any type, as
    without the header (RFC 9110), where DRF answered 406.
    """

    def get_accept_list(self, request):
        if not request.headers.get("accept", "*/*").replace(",", "").strip():
            return ["*/*"]
        return super().get_accept_list(request)


class FormatParameterMixin:
    """``?format=`` naming a format the view has no renderer for is a 406 ``not_acceptable``,
    as an ``Accept`` header without one is.

    DRF answers it with a 404, for a path that exists: the client asked for what the view
    cannot give, and is told which formats it can.
    """

    content_negotiation_class = ContentNegotiation

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            formats = ", ".join(sorted({renderer.format for renderer in self.get_renderers()}))
            raise NotAcceptable("The format parameter names a format this API does not "
                                f"answer in: only {formats}.") from None


# Every form field hidden from error reports: the API reads JSON, but a client may post a
# form (a password, a link's token) by mistake, and Django's request logger hands the
# refused request, with its POST, to AdminEmailHandler and any reporter built on Django's.
@method_decorator(sensitive_post_parameters(), name="dispatch")
class SuiteAPIView(FormatParameterMixin, APIView):
    """Translates an app's flow errors into the API envelope.

    Apps register their flow exception type with a converter in ``flow_errors``.

    The API behaves the same whatever the project's ``REST_FRAMEWORK`` says: JSON in and
    out, errors in the envelope, the session cookie as the only credential (a project's
    Basic or token authentication would be a way around the sign-in's rate limits and
    lockout), open unless a view says otherwise.
    """

    flow_errors: dict[type[Exception], callable] = {}
    # JSON only, whatever the project's DEFAULT_PARSER_CLASSES: see authsuite.api.parsers.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    schema = SuiteAutoSchema()

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in SAFE_METHODS:
            return
        if not request.user.is_authenticated:
            # DRF checks CSRF for signed-in sessions only. Anonymous requests change state
            # too (a sign-in, a pending ceremony, a stage): none is taken cross-site.
            SessionAuthentication().enforce_csrf(request)
        if _has_body(request):
            # Parsed whether or not the view reads it: JSON only (415), well formed (400),
            # within the size limit (413), for every endpoint alike.
            request.data  # noqa: B018 - parsing is the point

    def handle_exception(self, exc):
        for exc_type, convert in self.flow_errors.items():
            if isinstance(exc, exc_type):
                exc = convert(exc)
                break
        return super().handle_exception(exc)


class JSONErrorsMixin(FormatParameterMixin):
    """Errors in the API's JSON envelope, whatever the view renders when it succeeds.

    For the schema (YAML or JSON) and the docs page (HTML): a 404, 405 or 406 there is still
    an answer of the API, and a client that asked for the page cannot be given the page.
    """

    def get_exception_handler(self):
        return exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _has_body(request) -> bool:
    meta = request._request.META
    return bool(meta.get("HTTP_TRANSFER_ENCODING")) or meta.get("CONTENT_LENGTH", "") not in ("", "0")


def api_error(code: str, message: str, *, status: int = 400, field: str | None = None,
              messages: list[str] | None = None, retry_after: int | None = None) -> APIError:
    fields = {field: messages or [message]} if field else None
    # Every 429 says when to try again, "0" included (no wait configured); the schema
    # documents the header as always sent with it. Other statuses only with a wait to say.
    if status == 429:
        retry_after = 1 if retry_after is None else max(int(retry_after), 0)
    headers = ({"Retry-After": str(retry_after)} if retry_after or status == 429 else None)
    return APIError(message, code, status_code=status, fields=fields, headers=headers)
