"""URLconf of a project that includes the suite under a prefix of its own (``auth/``)."""

from django.urls import include, path

urlpatterns = [path("auth/", include("authsuite.suite_urls"))]

handler404 = "authsuite.views.not_found"
