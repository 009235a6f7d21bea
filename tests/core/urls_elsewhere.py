"""The demo's URLs, and every page of the suite's apps routed again under ``elsewhere/``,
outside the suite's namespaces, as a project's own URLconf may route one."""

from django.urls import URLPattern, URLResolver, path

from authsuite.context import SUITE_NAMESPACES
from authsuite.urls import *  # noqa: F403
from authsuite.urls import urlpatterns as demo_urlpatterns


def _pages(patterns, prefix="", in_suite=False):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _pages(pattern.url_patterns, prefix + str(pattern.pattern),
                              in_suite or pattern.namespace in SUITE_NAMESPACES)
        elif isinstance(pattern, URLPattern) and in_suite and not prefix.startswith("api/"):
            yield prefix + str(pattern.pattern), pattern.callback


urlpatterns = [
    *demo_urlpatterns,
    *(path("elsewhere/" + route, view) for route, view in _pages(demo_urlpatterns)),
]
