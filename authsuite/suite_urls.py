"""The one URLconf a project includes: ``path("", include("authsuite.suite_urls"))``.

Pages of each installed suite app under their prefix (``/accounts/``...), the JSON API
under ``/api/auth/v1/`` with its OpenAPI schema and locally served docs.
"""

from django.apps import apps
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

api_patterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="1"), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="authsuite_api:schema"), name="docs"),
]
if apps.is_installed("accounts"):
    api_patterns.append(path("", include("accounts.api.urls")))

urlpatterns = [
    path("api/auth/v1/", include((api_patterns, "authsuite_api"))),
]
if apps.is_installed("accounts"):
    urlpatterns.insert(0, path("accounts/", include("accounts.urls")))
