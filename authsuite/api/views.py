"""Base class of every suite API view."""

from __future__ import annotations

from rest_framework.views import APIView

from authsuite.api.errors import APIError
from authsuite.api.parsers import JSONParser


class SuiteAPIView(APIView):
    """Translates an app's flow errors into the API envelope.

    Apps register their flow exception type with a converter in ``flow_errors``.
    """

    flow_errors: dict[type[Exception], callable] = {}
    # JSON only, whatever the project's DEFAULT_PARSER_CLASSES: see authsuite.api.parsers.
    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        for exc_type, convert in self.flow_errors.items():
            if isinstance(exc, exc_type):
                exc = convert(exc)
                break
        return super().handle_exception(exc)


def api_error(code: str, message: str, *, status: int = 400, field: str | None = None,
              messages: list[str] | None = None, retry_after: int | None = None) -> APIError:
    fields = {field: messages or [message]} if field else None
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return APIError(message, code, status_code=status, fields=fields, headers=headers)
