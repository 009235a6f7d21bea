"""The one URLconf a project includes: ``path("", include("authsuite.suite_urls"))``.

Pages of each installed suite app under their prefix (``/accounts/``...), the JSON API
under ``/api/auth/v1/`` with its OpenAPI schema and locally served docs.
"""

from csp.decorators import csp_update
from django.apps import apps
from django.urls import include, path, re_path
from django.views.decorators.cache import never_cache
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from authsuite.api.views import JSONErrorsMixin
from authsuite.views import api_not_found


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    pass


class DocsView(JSONErrorsMixin, SpectacularSwaggerSplitView):
    pass


# Public, read-only documents: anything but GET and HEAD is a 405, and no session is consulted
# (rendering a 405 page for a signed-in session without a CSRF token would check it then).
# Their errors (404, 405, 406) come in the API's JSON envelope.
READ_ONLY = {"http_method_names": ["get", "head"], "authentication_classes": [],
             "permission_classes": [AllowAny]}

api_patterns = [
    # Like every API response, never cached (Cache-Control: no-store).
    path("schema/", never_cache(SchemaView.as_view(api_version="1", **READ_ONLY)),
         name="schema"),
    # Swagger UI styles itself with inline <style> and style attributes; that page alone
    # allows inline styles. Scripts stay 'self' only (the split view serves its JS as a file).
    path(
        "docs/",
        never_cache(csp_update({"style-src": ["'self'", "'unsafe-inline'"]})(
            DocsView.as_view(url_name="authsuite_api:schema", **READ_ONLY))),
        name="docs",
    ),
]
if apps.is_installed("accounts"):
    api_patterns.append(path("", include("accounts.api.urls")))
if apps.is_installed("audit"):
    api_patterns.append(path("", include("audit.api.urls")))
if apps.is_installed("mfa"):
    api_patterns.append(path("", include("mfa.api.urls")))
if apps.is_installed("passkeys"):
    api_patterns.append(path("", include("passkeys.api.urls")))
# Last: any other path under the API, a slash short of an endpoint or unknown, answers 404 in
# the envelope (and Django's APPEND_SLASH no longer redirects or refuses a POST there).
api_patterns.append(re_path(r"^(?P<path>.*)$", api_not_found))

urlpatterns = [
    path("api/auth/v1/", include((api_patterns, "authsuite_api"))),
]
if apps.is_installed("audit"):
    urlpatterns.insert(0, path("accounts/security/", include("audit.urls")))
if apps.is_installed("mfa"):
    urlpatterns.insert(0, path("mfa/", include("mfa.urls")))
if apps.is_installed("passkeys"):
    urlpatterns.insert(0, path("passkeys/", include("passkeys.urls")))
if apps.is_installed("accounts"):
    urlpatterns.insert(0, path("accounts/", include("accounts.urls")))
