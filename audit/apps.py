from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    label = "audit"
    verbose_name = _("Audit trail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps
        from django.core.signals import setting_changed

        from audit import alerts, checks, registry  # noqa: F401
        from audit.events import authsuite as _core_events  # noqa: F401
        from audit.events import django_auth
        from authsuite import notices

        if apps.is_installed("accounts"):
            from accounts import exports as account_exports
            from audit import exports
            from audit.events import accounts as _accounts_events  # noqa: F401

            account_exports.register("security_activity", exports.activity_section)
            account_exports.register("alerts", exports.alerts_section)
        if apps.is_installed("mfa"):
            from audit.events import mfa as _mfa_events  # noqa: F401
        if apps.is_installed("passkeys"):
            from audit.events import passkeys as _passkey_events  # noqa: F401
        registry.connect_installed()
        django_auth.connect()
        notices.register_claimer(alerts.claims)
        from audit import redaction
        from audit.app_settings import app_settings

        redaction.install(app_settings.REDACT_LOGGERS)
        setting_changed.connect(_reset_rules, dispatch_uid="audit.reset_rules")


def _reset_rules(*, setting, **kwargs):
    if setting == "AUTHSUITE_AUDIT_ALERT_RULES":
        from audit.alerts import config

        config._load.cache_clear()
