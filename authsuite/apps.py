from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuthsuiteConfig(AppConfig):
    name = "authsuite"
    label = "authsuite"
    verbose_name = _("authsuite")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from authsuite import checks  # noqa: F401
