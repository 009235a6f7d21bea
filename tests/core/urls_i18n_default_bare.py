"""``tests.core.urls_i18n`` with ``prefix_default_language=False``."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

urlpatterns = i18n_patterns(path("auth/", include("authsuite.suite_urls")),
                            prefix_default_language=False)
