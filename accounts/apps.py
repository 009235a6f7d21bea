from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.apps import apps
        from django.contrib.auth import user_logged_in, user_logged_out
        from django.core.signals import setting_changed

        from accounts import checks, links, passwords, receivers, sessions, stages  # noqa: F401
        from accounts import signals as account_signals
        from accounts.flows import link_request, mail
        from accounts.pipeline import stages as registry
        from accounts.scripts import staff_spelling
        from authsuite.outbox import guard_register, resolver_register
        from authsuite.spelling import spelling_register

        # The core's pages (the outbox admin) show staff addresses as this app spells them.
        spelling_register(staff_spelling)
        # Sign-in and reset links asked for by address are decided by the mail worker.
        resolver_register(link_request.RESOLVER, link_request.link_request_resolve)
        # A link mail is sent only while its link still works: a retry after a newer link
        # voided it sends nothing.
        guard_register(mail.LINK_GUARD, mail.link_still_live)
        from accounts import exports
        from accounts.flows import account

        # Kept about the account by address rather than by foreign key: its mail and
        # failed sign-ins.
        exports.register("mail", account.mail_section)
        exports.register("sign_in_failures", account.sign_in_failures_section)
        registry.register(stages.VerifyEmailStage())
        registry.register(stages.PasswordChangeRequiredStage())
        setting_changed.connect(passwords.reset_caches, dispatch_uid="accounts.passwords")
        receivers.connect_user_model()
        # Django's last_login receiver saves the user (two model signals, a compiled
        # UPDATE) at every sign-in; ours writes the one column. Same dispatch_uid: whichever
        # app is ready first, only ours stays connected.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(receivers.last_login_update, dispatch_uid="update_last_login")
        user_logged_in.connect(links.forget_at_sign_in, dispatch_uid="accounts.forget_links")
        user_logged_out.connect(sessions.session_end_at_logout,
                                dispatch_uid="accounts.session_end_at_logout")
        account_signals.login_succeeded.connect(receivers.recovered_at_sign_in,
                                                dispatch_uid="accounts.recovered_at_sign_in")
        if apps.is_installed("django.contrib.admin"):
            # A project's own admin for its own user model, registered after ours was
            # imported, gains the addresses, sessions and actions too.
            from accounts.admin import adopt_group_admin, adopt_user_admin

            adopt_user_admin()
            adopt_group_admin()


class SuiteAdminConfig(admin_apps.AdminConfig):
    """Use instead of ``django.contrib.admin``: staff sign in, sign out and change their
    password through the suite (``mfa.apps.MFAAdminConfig`` adds a second factor)."""

    default = False
    default_site = "accounts.admin_site.SuiteAdminSite"
