from django.apps import AppConfig


class MailboxConfig(AppConfig):
    name = "authsuite.mailbox"
    label = "authsuite_mailbox"
    verbose_name = "Demo mailbox"
    default_auto_field = "django.db.models.BigAutoField"
