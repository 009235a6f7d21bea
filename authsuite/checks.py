"""Core system checks (ids ``authsuite.*``)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core import checks

from authsuite.app_settings import app_settings

REQUIRED_APPS = {
    "accounts": ["authsuite"],
}


@checks.register()
def check_required_apps(app_configs=None, **kwargs):
    errors = []
    for app, needs in REQUIRED_APPS.items():
        if not apps.is_installed(app):
            continue
        for need in needs:
            if not apps.is_installed(need):
                errors.append(checks.Error(
                    f"'{app}' needs '{need}' in INSTALLED_APPS.",
                    hint=f"Add '{need}' to INSTALLED_APPS.", obj="INSTALLED_APPS",
                    id="authsuite.E001",
                ))
    return errors


@checks.register()
def check_settings(app_configs=None, **kwargs):
    try:
        app_settings.IPV6_CLIENT_PREFIX  # noqa: B018 - read to validate
    except (TypeError, ValueError) as error:
        return [checks.Error(str(error), hint="Use a prefix length from 32 to 128 (64 is usual).",
                             obj="AUTHSUITE_IPV6_CLIENT_PREFIX", id="authsuite.E003")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_production(app_configs=None, **kwargs):
    errors = []
    if app_settings.TRUSTED_PROXY_COUNT < 0:
        errors.append(checks.Error(
            "AUTHSUITE_TRUSTED_PROXY_COUNT cannot be negative.", hint="Use 0 or more.",
            obj="AUTHSUITE_TRUSTED_PROXY_COUNT", id="authsuite.E002",
        ))
    if not settings.DEBUG and "authsuite.mailbox" in settings.INSTALLED_APPS:
        errors.append(checks.Warning(
            "The demo mailbox app is installed with DEBUG off.",
            hint="Remove 'authsuite.mailbox' from INSTALLED_APPS in production.",
            obj="INSTALLED_APPS", id="authsuite.W001",
        ))
    if not settings.DEBUG and settings.EMAIL_BACKEND.endswith("locmem.EmailBackend"):
        errors.append(checks.Warning(
            "EMAIL_BACKEND keeps mail in memory: nobody receives it.",
            hint="Configure SMTP (EMAIL_URL) in production.", obj="EMAIL_BACKEND",
            id="authsuite.W002",
        ))
    return errors
