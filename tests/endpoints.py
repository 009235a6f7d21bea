"""Every JSON endpoint of the suite, read from the URLconf rather than listed by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny

from authsuite.api.views import SuiteAPIView

API = "/api/auth/v1/"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Endpoint:
    route: str  # "emails/<int:pk>/", relative to API
    view: type

    def __str__(self) -> str:
        return self.route

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m for m in HTTP_METHODS if hasattr(self.view, m))

    @property
    def serializer(self) -> type | None:
        """The serializer the view validates its body with, if it reads a body."""
        return getattr(self.view, "input_serializer", None)

    @property
    def needs_sign_in(self) -> bool:
        return any(self.needs_sign_in_for(method) for method in self.methods)

    def needs_sign_in_for(self, method: str) -> bool:
        """Whether ``method`` needs a signed-in user (views may choose per method)."""
        view = self.view()
        view.request = SimpleNamespace(method=method.upper())
        return any(not isinstance(p, AllowAny) for p in view.get_permissions())

    def url(self, **kwargs) -> str:
        """The URL with each path parameter filled from ``kwargs`` (999999 when not given)."""

        def fill(match: re.Match) -> str:
            return str(kwargs.get(match.group(2), 999_999))

        return API + re.sub(r"<(?:(\w+):)?(\w+)>", fill, self.route)


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, getattr(pattern.callback, "view_class", None)


def api_endpoints() -> list[Endpoint]:
    """Every route under /api/auth/v1/ served by a suite API view."""
    found = []
    for route, view in _walk(get_resolver().url_patterns):
        if route.startswith(API.lstrip("/")) and view and issubclass(view, SuiteAPIView):
            found.append(Endpoint(route[len(API) - 1:], view))
    return found
