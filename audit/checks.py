"""System checks of the audit app (ids ``authsuite_audit.*``)."""

from django.conf import settings
from django.core import checks

from audit.app_settings import app_settings


@checks.register(checks.Tags.security)
def check_audit(app_configs=None, **kwargs):
    errors = []
    if not settings.DEBUG and not app_settings.SIGNING_KEY:
        errors.append(checks.Warning(
            "AUTHSUITE_AUDIT_SIGNING_KEY is not set: the audit key is derived from SECRET_KEY.",
            hint="Set a separate random key (and keep it out of the database and the code).",
            obj="AUTHSUITE_AUDIT_SIGNING_KEY", id="authsuite_audit.W001",
        ))
    if app_settings.SIGNING_KEY and app_settings.SIGNING_KEY == settings.SECRET_KEY:
        errors.append(checks.Error(
            "AUTHSUITE_AUDIT_SIGNING_KEY equals SECRET_KEY.",
            hint="Use a separate key so that one leak does not give away both.",
            obj="AUTHSUITE_AUDIT_SIGNING_KEY", id="authsuite_audit.E001",
        ))
    from django.utils.module_loading import import_string

    for path in app_settings.ALERT_RULES:
        try:
            import_string(path)
        except ImportError:
            errors.append(checks.Error(
                f"Alert rule {path!r} cannot be imported.",
                hint="Fix AUTHSUITE_AUDIT_ALERT_RULES.", obj="AUTHSUITE_AUDIT_ALERT_RULES",
                id="authsuite_audit.E002",
            ))
    return errors
