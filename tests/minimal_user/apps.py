from django.apps import AppConfig


class MinimalUserConfig(AppConfig):
    name = "tests.minimal_user"
    label = "minimal_user"
    default_auto_field = "django.db.models.BigAutoField"
