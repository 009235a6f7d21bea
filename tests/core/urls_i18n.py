"""URLconfs of a project whose pages are under language prefixes (``i18n_patterns``), the
suite's included under ``auth/``: ``urlpatterns`` prefixes every language, the default one
(``LANGUAGE_CODE``) included; ``tests.core.urls_i18n_default_bare`` all but that one."""

from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path

urlpatterns = i18n_patterns(path("auth/", include("authsuite.suite_urls")))
