from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class MFAConfig(AppConfig):
    name = "mfa"
    label = "mfa"
    verbose_name = _("Two-step verification")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps
        from django.contrib.auth import get_user_model

        from accounts import signals as account_signals
        from accounts.pipeline import stages as registry
        from mfa import checks, devices, receivers, stages, trust  # noqa: F401
        from mfa.registry import register_factor

        registry.register(stages.SecondFactorStage())
        registry.register(stages.EnrollStage())
        register_factor("totp", devices.totp_devices, describe=devices.describe_totp)
        from accounts import authrecord, credentials

        authrecord.second_factor_check_register(devices.has_mfa)
        authrecord.second_factor_usable_register(devices.can_prove)
        from accounts import lockout
        from mfa.flows.common import failures_forget

        # Staff unlocking an account ends its codes' back-off too.
        lockout.unlock_register(failures_forget)
        # A trusted browser stays bound to the password stored again under a new hash.
        credentials.lifetime_register(trust.trust_lifetime)
        # A changed password ends every "don't ask again" promise.
        for signal in (account_signals.password_changed, account_signals.password_reset_completed):
            signal.connect(receivers.untrust_all, dispatch_uid=f"mfa.untrust.{id(signal)}")
            signal.connect(receivers.setups_void, dispatch_uid=f"mfa.setups_void.{id(signal)}")
        # So does any change of a second factor another app contributes.
        if apps.is_installed("passkeys"):
            from passkeys import signals as passkey_signals

            # A passkey that looks copied, too: a browser trusted since may be the copy's.
            for signal in (passkey_signals.passkey_added, passkey_signals.passkey_removed,
                           passkey_signals.passkey_clone_detected):
                signal.connect(receivers.untrust_all, dispatch_uid=f"mfa.untrust.{id(signal)}")
            passkey_signals.passkey_removed.connect(receivers.factor_removed,
                                                    dispatch_uid="mfa.factor_removed.passkey")
        receivers.extend_user_admin(get_user_model())
        from authsuite import slots

        slots.register("account_links", "mfa/_account_link.html")
        slots.register("reauth_methods", "mfa/_reauth_code.html", receivers.reauth_code_link)
        from accounts import exports

        exports.register("mfa", devices.export_section)


class MFAAdminConfig(admin_apps.AdminConfig):
    """Use instead of ``django.contrib.admin`` to put the admin behind MFA."""

    default = False
    default_site = "mfa.admin_site.MFAAdminSite"

