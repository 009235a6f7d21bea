"""The OpenAPI schema: how the suite's views are described, and their error responses.

``SuiteAutoSchema``, the schema class of every suite API view, describes an operation by its
own view's docstring (or its method's), never by a base class's, a request's text field
that refuses blank input with ``minLength: 1``, and one that refuses control characters with
a ``pattern`` that does too.

A drf-spectacular postprocessing hook (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``) adds
an ``Error`` component, whose ``code`` lists every stable code of the installed apps (each
app declares them as a ``StrEnum`` in its ``errors`` module, the core's in
``authsuite.api.errors``), and the error responses any operation can give: a view documents
only its success.
"""

from __future__ import annotations

import functools
import inspect
from enum import StrEnum
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.urls import NoReverseMatch, reverse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from drf_spectacular.utils import extend_schema as spectacular_extend_schema
from rest_framework import serializers

from authsuite.api.errors import CoreError
from authsuite.text import CONTROL_FREE_PATTERN

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_METHODS = {"get", "post", "put", "patch", "delete"}
# A body is parsed on every method but GET and HEAD, whether or not the view reads it.
_WITH_BODY = {"post", "put", "patch", "delete"}
# (status, description, methods it applies to)
_RESPONSES = [
    ("400", "Invalid or malformed input (`invalid`, `malformed_request`); `fields` names "
            "the fields at fault.", _WITH_BODY),
    # authsuite.context.unreadable refuses these before any view, whatever the method.
    ("400", "A request that cannot be read (`malformed_request`): a Content-Type naming a "
            "charset other than UTF-8 (or that cannot be parsed), a Content-Length that is "
            "not a number, or more query fields than `DATA_UPLOAD_MAX_NUMBER_FIELDS`; "
            "`message` says which.",
     _METHODS - _WITH_BODY),
    ("403", "Not signed in, not allowed, CSRF check failed, or a recent reauthentication "
            "is required (`not_authenticated`, `permission_denied`, `csrf_failed`, "
            "`reauthentication_required`; `second_factor_required` when the second factor "
            "is due, `second_factor_unavailable` when the account has no second factor it "
            "can prove for it).", _METHODS),
    ("406", "The `Accept` header admits no JSON, or `?format=` names another format than "
            "`json` (`not_acceptable`).", _METHODS),
    ("413", "The request body is too large (`request_too_large`).", _WITH_BODY),
    ("415", "The body is not JSON (`unsupported_media_type`).", _WITH_BODY),
    ("429", "Too many attempts (`rate_limited`, or a flow's lockout code); retry after the "
            "`Retry-After` header's seconds.", _METHODS),
    # authsuite.views.server_error and the API's exception handling: never a traceback.
    ("500", "A failure of the server's own, a bug or a database gone (`server_error`); "
            "nothing to correct in the request.", _METHODS),
]


class SuiteAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema``, for what the suite's views leave it to guess."""

    def get_description(self) -> str:
        # The view's own docstring, or its method's. drf-spectacular falls back on the base
        # classes' (SuiteAPIView's notes on flow errors and settings), which tell a client
        # nothing about the operation.
        method = getattr(self.view, self.method.lower(), None)
        own = type(self.view).__dict__.get("__doc__")
        return get_doc(method) or (inspect.cleandoc(own) if own else "")

    def get_override_parameters(self):
        # Every unsafe request carries the CSRF token, signed in or not (SuiteAPIView.initial):
        # without it the answer is 403 `csrf_failed`, whatever the body.
        parameters = list(super().get_override_parameters())
        if self.method.lower() in _WITH_BODY:
            parameters.append(OpenApiParameter(
                csrf_header(), str, OpenApiParameter.HEADER, required=True,
                description=f"The CSRF token: the CSRF cookie's value, or what `GET "
                            f"{api_path('csrf', '/api/auth/v1/csrf/')}` answers (it sets the "
                            f"cookie). Without it, 403 `csrf_failed`."))
        return parameters

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        # "" in a text field that refuses blank input (DRF's allow_blank=False) is a 400: the
        # schema says so whatever the project's SPECTACULAR_SETTINGS (drf-spectacular adds it
        # only under ENFORCE_NON_BLANK_FIELDS or COMPONENT_SPLIT_REQUEST). Requests only: an
        # answer's text may well be empty.
        if (direction == "request" and isinstance(field, serializers.CharField)
                and not field.allow_blank and not field.read_only):
            meta.setdefault("minLength", 1)
        # Text a control character in is a 400 (a name, an address, a code, a next): the
        # field's own rule (``refuses_control_characters``) or its serializer's
        # (``refuses_control_characters_in``, which leaves passwords free).
        if direction == "request" and isinstance(field, serializers.CharField) and (
                getattr(field, "refuses_control_characters", False)
                or getattr(field.parent, "refuses_control_characters_in",
                           lambda name: False)(field.field_name)):
            meta.setdefault("pattern", CONTROL_FREE_PATTERN)
        return meta


def api_path(name: str, default: str) -> str:
    """The path of the API's endpoint ``name`` (``authsuite_api:<name>``) where the project
    serves it: under the prefix of its include, its language prefix and the script prefix,
    so that a text naming an endpoint names the one a client can reach. ``default`` where
    the URLconf has none (a project that includes only part of the suite's)."""
    try:
        return reverse(f"authsuite_api:{name}")
    except NoReverseMatch:
        return default


def csrf_header() -> str:
    """The header Django reads the CSRF token from (``CSRF_HEADER_NAME``, a ``META`` key), as
    a client names it: ``X-CSRFToken`` by default."""
    name = settings.CSRF_HEADER_NAME
    if name == "HTTP_X_CSRFTOKEN":
        return "X-CSRFToken"
    return "-".join(part.capitalize() for part in name.removeprefix("HTTP_").split("_"))


def error(description: str) -> OpenApiResponse:
    """An operation's own error answer, for ``extend_schema(responses=...)``: say which
    codes it carries; the body is the Error envelope (``error_responses`` adds it).

    ``{404: error("No such address (`email_not_found`).")}``
    """
    return OpenApiResponse(description=description)


@functools.cache
def error_code_set() -> frozenset[str]:
    """Every error code of the core and of the installed apps.

    Found once per process, as the installed apps do not change (``override_settings`` of
    ``INSTALLED_APPS`` forgets it): the API's error handler asks on every refusal with field
    errors, and each app without an ``errors`` module would cost a failed import each time.
    """
    codes = {str(code) for code in CoreError}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.errors")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.errors":
                raise
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
                codes.update(str(code) for code in value)
    return frozenset(codes)


def error_codes() -> list[str]:
    """Every error code of the core and of the installed apps, sorted."""
    return sorted(error_code_set())


def _forget_error_codes(*, setting, **kwargs) -> None:
    if setting == "INSTALLED_APPS":
        error_code_set.cache_clear()


setting_changed.connect(_forget_error_codes, dispatch_uid="authsuite.api.schema.error_codes")


def error_schema() -> dict:
    return {
        "type": "object",
        "description": "Every error response of the API.",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": error_codes(),
                         "description": "Stable: clients may branch on it."},
                "message": {"type": "string", "description": "For people; may change."},
                "fields": {"type": "object", "description": "Field name to its messages.",
                           "additionalProperties": {"type": "array",
                                                    "items": {"type": "string"}}},
            },
        }},
    }


def error_responses(result, generator, request, public):
    """Postprocessing hook: the Error component and each operation's error responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = error_schema()
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:  # the view's own: error()
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            if "404" in responses and any(p.get("in") == "path"
                                          for p in operation.get("parameters", [])):
                # An id the URLconf's converter refuses (too long to be a number) matches no
                # route: authsuite.views.api_not_found answers it.
                responses["404"]["description"] += (
                    " An id that cannot be one (too many digits) is `not_found`.")
            for status, description, methods in _RESPONSES:
                if method not in methods:
                    continue
                response = {"description": description,
                            "content": {"application/json": {"schema": ERROR_REF}}}
                if status in responses:
                    # The operation's own codes for a status every operation has (a flow's
                    # 400, a lockout's 429): the common ones are answered there too.
                    own = responses[status].get("description", "")
                    response["description"] = f"{description} {own}".strip()
                if status == "429":
                    # Every limit, lockout and back-off of the suite says how long it holds.
                    response["headers"] = {"Retry-After": {
                        "required": True, "schema": {"type": "integer"},
                        "description": "Seconds to wait before trying again."}}
                responses[status] = response
    return result


def extend_schema(**kwargs):
    """drf-spectacular's ``extend_schema``, built on :class:`SuiteAutoSchema` for a view's
    method whatever the project's ``REST_FRAMEWORK`` names as ``DEFAULT_SCHEMA_CLASS``.

    drf-spectacular bases a method's annotation on that setting as it stands when the
    module is imported: DRF's own ``AutoSchema`` in a project that names none (the suite
    asks for no ``REST_FRAMEWORK`` entry), which fails the whole document (a 500). A
    method already annotated (stacked decorators) keeps building on its annotation."""
    decorate = spectacular_extend_schema(**kwargs)

    def decorator(f):
        based = (inspect.isclass(f) or hasattr(f, "schema")
                 or "schema" in getattr(f, "kwargs", {}))
        if based:
            return decorate(f)
        f.schema = SuiteAutoSchema  # the base drf-spectacular looks for first
        try:
            return decorate(f)
        finally:
            del f.schema

    return decorator
