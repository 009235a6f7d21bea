"""Staff manage users here: search, filters, addresses and sessions, and safe actions.

Staff never see or set a raw password: the password field is not on the form and the
admin's set-password page is not routed; they send a reset link instead.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.http import Http404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import lockout, sessions
from accounts.flows.account import account_deactivate
from accounts.flows.password import password_reset_send
from accounts.models import (
    EmailAddress,
    LoginThrottle,
    PasswordChangeRequired,
    User,
    UserSession,
)


def _no_password_page(request, object_id):
    raise Http404("Staff cannot set passwords.")


class VerifiedFilter(admin.SimpleListFilter):
    title = _("email verified")
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        verified = EmailAddress.objects.filter(user=OuterRef("pk"), primary=True, verified=True)
        if self.value() == "yes":
            return queryset.filter(Exists(verified))
        if self.value() == "no":
            return queryset.exclude(Exists(verified))
        return queryset


class LockedFilter(admin.SimpleListFilter):
    title = _("locked")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Locked now"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            locked = LoginThrottle.objects.filter(
                identifier=OuterRef("email_lower"), locked_until__gt=timezone.now()
            )
            return queryset.annotate(email_lower=Lower("email")).filter(Exists(locked))
        return queryset


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    extra = 0
    fields = ["email", "primary", "verified", "created_at", "verified_at"]
    readonly_fields = ["created_at", "verified_at"]


class UserSessionInline(admin.TabularInline):
    model = UserSession
    extra = 0
    can_delete = False
    fields = ["device", "ip", "created_at", "last_seen_at", "remember", "ended_at", "end_reason"]
    readonly_fields = fields
    ordering = ["-last_seen_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "is_active", "is_staff", "last_login", "date_joined"]
    list_filter = ["is_active", VerifiedFilter, "is_staff", LockedFilter, "last_login"]
    search_fields = ["email", "name", "email_addresses__email"]
    ordering = ["-date_joined"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "name"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                        "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    filter_horizontal = ["groups", "user_permissions"]
    inlines = [EmailAddressInline, UserSessionInline]
    actions = ["send_password_reset", "end_all_sessions", "unlock", "deactivate",
               "require_password_change"]
    show_full_result_count = False

    def get_urls(self):
        # django.contrib.auth's UserAdmin routes "<id>/password/" to a set-password form.
        # Here that path answers 404 outright, instead of falling through to the catch-all
        # "<id>/" redirect: staff send a reset link, they never choose a password.
        return [path("<path:object_id>/password/", _no_password_page), *super().get_urls()]

    def save_model(self, request, obj, form, change):
        if not change:
            # Staff create accounts without a password: the user sets one by reset link.
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Send a password-reset link"))
    def send_password_reset(self, request, queryset):
        count = 0
        for user in queryset.filter(is_active=True):
            password_reset_send(request, user=user)
            count += 1
        self.message_user(request, _("Reset links sent to %(n)d users.") % {"n": count})

    @admin.action(description=_("End all sessions"))
    def end_all_sessions(self, request, queryset):
        count = sum(sessions.sessions_end(u, request=request, reason="staff") for u in queryset)
        self.message_user(request, _("%(n)d sessions ended.") % {"n": count})

    @admin.action(description=_("Unlock (forget failed sign-ins)"))
    def unlock(self, request, queryset):
        for user in queryset:
            lockout.account_unlock(user, request=request, by=request.user)
        self.message_user(request, _("Unlocked %(n)d users.") % {"n": queryset.count()})

    @admin.action(description=_("Deactivate (and end their sessions)"))
    def deactivate(self, request, queryset):
        for user in queryset.exclude(pk=request.user.pk):
            account_deactivate(user, request=request, by=request.user)
        self.message_user(request, _("Users deactivated."), messages.SUCCESS)

    @admin.action(description=_("Require a new password at next sign-in"))
    def require_password_change(self, request, queryset):
        for user in queryset:
            PasswordChangeRequired.objects.get_or_create(user=user)
        self.message_user(request, _("They will choose a new password at their next sign-in."))


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ["identifier", "ip", "failures", "lockouts", "locked_until", "last_failure_at"]
    search_fields = ["identifier", "ip"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
