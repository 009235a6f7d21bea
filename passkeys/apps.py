from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PasskeysConfig(AppConfig):
    name = "passkeys"
    label = "passkeys"
    verbose_name = _("Passkeys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps

        from accounts import exports
        from accounts import signals as account_signals
        from accounts.forms import LoginForm
        from authsuite import slots
        from authsuite.outbox import guard_register
        from passkeys import checks, flows, signup  # noqa: F401
        from passkeys.app_settings import app_settings

        exports.register("passkeys", flows.export_section)
        # A sign-up link mail is sent only while its link still works (a retry after a
        # newer link voided it sends nothing).
        guard_register(signup.LINK_GUARD, signup.link_still_live)
        # An account taking an address kills the pending passkey sign-ups of it.
        account_signals.user_signed_up.connect(signup.address_taken,
                                               dispatch_uid="passkeys.signup_user_signed_up")
        account_signals.email_verified.connect(signup.address_taken,
                                               dispatch_uid="passkeys.signup_email_verified")
        slots.register("login_methods", "passkeys/_login_button.html")
        slots.register("account_links", "passkeys/_account_link.html")
        slots.register("reauth_methods", "passkeys/_reauth_button.html",
                       context=flows.reauth_button)
        slots.register("signup_methods", "passkeys/_signup_link.html",
                       context=lambda request: {} if app_settings.SIGNUP else None)
        # Conditional UI: the browser offers passkeys in the email field's autofill.
        LoginForm.base_fields["email"].widget.attrs["autocomplete"] = "username webauthn"
        if apps.is_installed("mfa"):
            from mfa.registry import register_factor
            from passkeys.models import Passkey

            # Flagged passkeys (suspected clones) count too: disabling one must never turn
            # the second factor off, or whoever holds the password would sign in with it
            # alone. The stage offers the flagged passkey no more; the account's other
            # factors (recovery codes, an app, other passkeys) still pass it.
            register_factor("passkey", lambda user: Passkey.objects.filter(user=user),
                            remove=flows.passkeys_remove_all, describe=flows.describe,
                            usable=flows.usable_passkeys)
            # The challenge page has loaded the pending account's ways through the stage:
            # the button reads them there (takes_context) instead of asking again.
            slots.register("mfa_alternatives", "passkeys/_mfa_option.html",
                           context=flows.second_factor_button, takes_context=True)
