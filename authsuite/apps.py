from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuthsuiteConfig(AppConfig):
    name = "authsuite"
    label = "authsuite"
    verbose_name = _("authsuite")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core.signals import request_started

        from authsuite import checks  # noqa: F401
        from authsuite.context import content_type_guard

        # Before Django builds each request: see content_type_guard.
        request_started.connect(content_type_guard, dispatch_uid="authsuite.content_type_guard")
