"""System checks of the MFA app (ids ``authsuite_mfa.*``)."""

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from authsuite.app_settings import app_settings as box
from authsuite.checks import key_list_errors, reported_cookie_warnings
from mfa.app_settings import app_settings


@checks.register(checks.Tags.security)
def check_mfa(app_configs=None, **kwargs):
    errors = []
    for needed in ("django_otp", "accounts"):
        if not apps.is_installed(needed):
            errors.append(checks.Error(
                f"'mfa' needs '{needed}' in INSTALLED_APPS.", hint=f"Add '{needed}'.",
                obj="INSTALLED_APPS", id="authsuite_mfa.E001",
            ))
    rule = app_settings.REQUIRED
    if not isinstance(rule, str) or (rule not in ("nobody", "staff", "everyone")
                                     and "." not in rule):
        errors.append(checks.Error(
            f"AUTHSUITE_MFA_REQUIRED is {rule!r}.",
            hint="Use 'nobody', 'staff', 'everyone' or the dotted path of a callable.",
            obj="AUTHSUITE_MFA_REQUIRED", id="authsuite_mfa.E002",
        ))
    elif rule not in ("nobody", "staff", "everyone"):
        # Found now rather than at the first sign-in, where it would fail every one of them.
        try:
            target = import_string(rule)
        except ImportError:
            target = None
        if not callable(target):
            errors.append(checks.Error(
                f"AUTHSUITE_MFA_REQUIRED names {rule!r}, which is not an importable callable.",
                hint="Give the dotted path of a function (user) -> bool.",
                obj="AUTHSUITE_MFA_REQUIRED", id="authsuite_mfa.E003",
            ))
    if app_settings.TOTP_TOLERANCE > 2:
        errors.append(checks.Warning(
            "AUTHSUITE_MFA_TOTP_TOLERANCE above 2 keeps codes valid for minutes.",
            hint="Keep it at 0 (a code lives 30 seconds at most), or 1 (90) for clocks "
                 "that drift.", obj="AUTHSUITE_MFA_TOTP_TOLERANCE",
            id="authsuite_mfa.W001",
        ))
    if not settings.DEBUG and not app_settings.ENCRYPTION_KEY and not box.SECRET_BOX_KEY:
        # With the secret box's own key, TOTP keys are sealed with that one.
        errors.append(checks.Warning(
            "Neither AUTHSUITE_MFA_ENCRYPTION_KEY nor AUTHSUITE_SECRET_BOX_KEY is set: TOTP "
            "keys are encrypted with a key derived from SECRET_KEY.",
            hint="Set a separate random key (AUTHSUITE_MFA_ENCRYPTION_KEY) so a SECRET_KEY "
                 "leak alone does not expose them.",
            obj="AUTHSUITE_MFA_ENCRYPTION_KEY", id="authsuite_mfa.W002",
        ))
    # Found now rather than when a TOTP key is next opened, which would fail every one.
    errors += key_list_errors(lambda: app_settings.ENCRYPTION_KEY_FALLBACKS,
                              setting="AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS",
                              check_id="authsuite_mfa.E004")
    if app_settings.PROTECT_ADMIN and apps.is_installed("django.contrib.admin"):
        from django.contrib import admin

        from mfa.admin_site import MFAAdminSite

        if not isinstance(admin.site, MFAAdminSite):
            errors.append(checks.Warning(
                "The Django admin is not protected by MFA.",
                hint="Replace 'django.contrib.admin' with 'mfa.apps.MFAAdminConfig' in "
                     "INSTALLED_APPS.", obj="INSTALLED_APPS", id="authsuite_mfa.W003",
            ))
    errors += reported_cookie_warnings(app_settings.TRUST_COOKIE_NAME,
                                       setting="AUTHSUITE_MFA_TRUST_COOKIE_NAME",
                                       check_id="authsuite_mfa.W004")
    return errors
