"""The one URLconf a project includes: ``path("", include("authsuite.suite_urls"))``.

Pages of each installed suite app under their prefix (``/accounts/``...), the JSON API
under ``/api/auth/v1/`` with its OpenAPI schema and locally served docs.
"""

from csp.decorators import csp_update
from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.urls import include, path, re_path
from django.utils import translation
from django.views.decorators.cache import never_cache
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from authsuite.api.schema import SuiteAutoSchema, extend_schema
from authsuite.api.views import JSONErrorsMixin
from authsuite.views import api_not_found


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    """The OpenAPI document, built and rendered once per process for each format it is
    asked in, then served from memory.

    It changes only with the code and the settings (any change to them forgets it), and
    building it costs tens of milliseconds: too much to spend again on every anonymous
    request for a public document. It is in the site's language (``LANGUAGE_CODE``),
    whatever language a request names (``?lang=``, ``Accept-Language``): one document per
    language a request could name would let anyone fill a process's memory with them.
    """

    schema = SuiteAutoSchema()

    # Left out of the document on the suite's own schema class: drf-spectacular annotates
    # its views' get() on REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS, and in a project whose
    # REST_FRAMEWORK names none (DRF's own AutoSchema then) the document failed on them, 500.
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def _get_schema_response(self, request):
        renderer = request.accepted_renderer
        content = _documents.get(type(renderer))
        if content is None:
            with translation.override(settings.LANGUAGE_CODE):
                data = super()._get_schema_response(request).data
                content = renderer.render(data, renderer.media_type, self.get_renderer_context())
            _documents[type(renderer)] = content
        media_type = renderer.media_type
        if renderer.charset:
            media_type = f"{media_type}; charset={renderer.charset}"
        response = HttpResponse(content, content_type=media_type)
        response["Content-Disposition"] = (
            f'inline; filename="{self._get_filename(request, self.api_version)}"')
        return response


#: The rendered document by renderer class (one per format).
_documents: dict[type, bytes] = {}


def _forget_documents(**kwargs) -> None:
    _documents.clear()


setting_changed.connect(_forget_documents, dispatch_uid="authsuite.suite_urls.documents")


class DocsView(JSONErrorsMixin, SpectacularSwaggerSplitView):
    schema = SuiteAutoSchema()

    @extend_schema(exclude=True)  # as SchemaView.get
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


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
