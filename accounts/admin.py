"""Staff manage users here: search, filters, addresses and sessions, and safe actions.

Staff never see or set a raw password: the password field is not on the form and the
admin's set-password page is not routed; they send a reset link instead.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.http import Http404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import lockout, sessions
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.account import account_deactivate
from accounts.flows.email import (
    IN_USE,
    address_held,
    claims_lock,
    claims_release,
    email_set_by_staff,
    held_elsewhere,
)
from accounts.flows.password import password_reset_send
from accounts.forms import normal_address
from accounts.models import (
    EmailAddress,
    LoginThrottle,
    PasswordChangeRequired,
    User,
    UserSession,
)
from accounts.users import email_field, stores_is_active, within_reach
from authsuite.admin_input import SafeInputMixin


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
                Q(locked_until__gt=timezone.now())
                | Q(ip=LoginThrottle.ACCOUNT_WIDE,
                    consecutive_failures__gte=app_settings.LOCKOUT_CONSECUTIVE_LIMIT),
                identifier=OuterRef("email_lower"),
            )
            return queryset.annotate(email_lower=Lower(email_field())).filter(Exists(locked))
        return queryset


class EmailAddressForm(forms.ModelForm):
    """An address row in the user admin. Ticking "verified" verifies the address like its
    link would: refused for an address another account holds, and on save the other
    accounts' unverified rows of it are removed and their links voided."""

    verifying = False

    class Meta:
        model = EmailAddress
        fields = ["email", "primary", "verified"]

    def clean(self):
        cleaned = super().clean()
        self.verifying = bool(cleaned.get("verified")) and (
            self.instance.pk is None or not {"email", "verified"}.isdisjoint(self.changed_data))
        email = cleaned.get("email")
        if self.verifying and email and held_elsewhere(email, user=self._user()):
            raise forms.ValidationError(_(IN_USE), code="email_in_use")
        return cleaned

    def _user(self):
        return self.instance.user if self.instance.user_id is not None else None

    def save(self, commit=True):
        if self.verifying:
            self.instance.verified_at = timezone.now()
        address = super().save(commit=commit)
        if commit and self.verifying:
            claims_release(user=address.user, email=address.email)
        return address


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    form = EmailAddressForm
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
    verbose_name_plural = _("open sessions")

    def get_queryset(self, request):
        # Open sessions only: ended ones are in the audit trail. Every row listed is posted
        # back with the form, and a long history would pass DATA_UPLOAD_MAX_NUMBER_FIELDS.
        return super().get_queryset(request).filter(ended_at__isnull=True)

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description=_("Send a password-reset link"), permissions=["change"])
def send_password_reset(modeladmin, request, queryset):
    count = 0
    for user in within_reach(request.user, queryset).filter(is_active=True):
        password_reset_send(request, user=user)
        count += 1
    modeladmin.message_user(request, _("Reset links sent to %(n)d users.") % {"n": count})


@admin.action(description=_("End all sessions"), permissions=["change"])
def end_all_sessions(modeladmin, request, queryset):
    count = sum(sessions.sessions_end(u, request=request, reason="staff")
                for u in within_reach(request.user, queryset))
    modeladmin.message_user(request, _("%(n)d sessions ended.") % {"n": count})


@admin.action(description=_("Unlock (forget failed sign-ins)"), permissions=["change"])
def unlock(modeladmin, request, queryset):
    users = list(queryset)  # unlocking locks nobody out: any selected user
    for user in users:
        lockout.account_unlock(user, request=request, by=request.user)
    modeladmin.message_user(request, _("Unlocked %(n)d users.") % {"n": len(users)})


@admin.action(description=_("Deactivate (and end their sessions)"), permissions=["change"])
def deactivate(modeladmin, request, queryset):
    if not stores_is_active(modeladmin.model):
        modeladmin.message_user(request, _("This user model cannot keep users inactive: it "
                                           "has no is_active field."), messages.ERROR)
        return
    for user in within_reach(request.user, queryset).exclude(pk=request.user.pk):
        account_deactivate(user, request=request, by=request.user)
    modeladmin.message_user(request, _("Users deactivated."), messages.SUCCESS)


@admin.action(description=_("Require a new password at next sign-in"), permissions=["change"])
def require_password_change(modeladmin, request, queryset):
    for user in within_reach(request.user, queryset):
        PasswordChangeRequired.objects.get_or_create(user=user)
    modeladmin.message_user(request, _("They will choose a new password at their next sign-in."))


USER_ACTIONS = [send_password_reset, end_all_sessions, unlock, deactivate,
                require_password_change]
USER_INLINES = [EmailAddressInline, UserSessionInline]


PRIVILEGE_FIELDS = ("is_superuser", "groups", "user_permissions")


class SuiteUserAdminMixin(SafeInputMixin):
    """What the suite adds to a user admin: addresses, sessions, its actions, no passwords."""

    inlines = USER_INLINES
    actions = USER_ACTIONS
    show_full_result_count = False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not stores_is_active(self.model):
            actions.pop("deactivate", None)  # nowhere to keep it (AbstractBaseUser alone)
        return actions

    def get_urls(self):
        # django.contrib.auth's UserAdmin routes "<id>/password/" to a set-password form.
        # Here that path answers 404 outright, instead of falling through to the catch-all
        # "<id>/" redirect: staff send a reset link, they never choose a password.
        return [path("<path:object_id>/password/", _no_password_page), *super().get_urls()]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only superusers hand out privileges: staff who may change users could
            # otherwise make themselves superusers.
            fields += [f for f in PRIVILEGE_FIELDS if f not in fields]
        return fields

    def has_change_permission(self, request, obj=None):
        # A superuser's account (its address, its flags) is for superusers to change: any
        # other staff member could take it over by giving it their own address.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        field = email_field()
        if field not in form.base_fields:
            return form

        class AddressCheckedForm(form):
            """The login address staff type is normalised and may not be another account's."""

            def clean(self):
                cleaned = super().clean()
                if field not in self.changed_data:
                    return cleaned  # an account as it was (a legacy one without an address)
                if cleaned.get(field):
                    try:
                        cleaned[field] = normal_address(cleaned[field])
                    except forms.ValidationError as error:
                        self.add_error(field, error)
                        return cleaned
                    # The admin saves in this transaction: until it ends, no other
                    # account can verify this address (verifying takes the same lock).
                    claims_lock(cleaned[field])
                    if held_elsewhere(cleaned[field], user=obj):
                        self.add_error(field, _(IN_USE))
                elif field not in self.errors:
                    # An optional field on some models (django.contrib.auth's): an account
                    # without one could never sign in, and would share "" with others.
                    self.add_error(field, _("People sign in with their email address: "
                                            "enter one."))
                return cleaned

        return AddressCheckedForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (IntegrityError, FlowError) as error:
            if isinstance(error, FlowError) and error.code != AccountsError.EMAIL_IN_USE:
                raise
            # Another account took the address between the form's check and the save (it
            # signed up with it, say): the admin's transaction rolled everything back. Once
            # more, and the form now finds the address taken and says so.
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            # Staff create accounts without a password: the user sets one by reset link.
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the address inline is saved: the rows the login address moves to are read
        # afresh, whatever staff edited in the inline on the same page.
        if change and email_field() in form.changed_data:
            email_set_by_staff(request, user=form.instance,
                               old_email=form.initial.get(email_field(), ""))


class UserAdmin(SuiteUserAdminMixin, admin.ModelAdmin):
    """The admin of the suite's own user model."""

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


class AuthUserAddForm(forms.ModelForm):
    """Adding a ``django.contrib.auth`` user: a username and an address, never a password."""

    class Meta:
        model = AuthUser
        fields = ["username", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True

    def clean_email(self):
        email = normal_address(self.cleaned_data["email"])
        if address_held(email):
            raise forms.ValidationError(_("An account already uses this address."))
        return email


class AuthUserAdmin(SuiteUserAdminMixin, auth_admin.UserAdmin):
    """``django.contrib.auth``'s UserAdmin, for projects on its User, without password pages."""

    add_form = AuthUserAddForm
    add_fieldsets = [(None, {"fields": ["username", "email"]})]
    fieldsets = [
        (None, {"fields": ["username"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
        *auth_admin.UserAdmin.fieldsets[2:],
    ]
    list_filter = ["is_active", VerifiedFilter, "is_staff", LockedFilter, "last_login"]
    search_fields = [*auth_admin.UserAdmin.search_fields, "email_addresses__email"]
    readonly_fields = ["last_login", "date_joined"]
    # UserChangeForm's read-only password field links to the set-password page, which is
    # not routed here: a plain form of the fieldsets' fields instead.
    form = forms.ModelForm


def adopt_user_admin(site=None) -> None:
    """Give the project's user model the suite's user admin, whichever model it is.

    The suite's own User gets ``UserAdmin``; ``django.contrib.auth``'s User gets
    ``AuthUserAdmin`` in place of Django's; a project's own admin for its own model keeps
    its pages and gains the addresses, sessions and actions. Safe to call more than once.
    """
    site = site or admin.site
    model = get_user_model()
    registered = site._registry.get(model)
    if model is User:
        if registered is None:
            site.register(User, UserAdmin)
        return
    if type(registered) is auth_admin.UserAdmin and model is AuthUser:
        site.unregister(model)
        site.register(model, AuthUserAdmin)
    elif registered is not None and not isinstance(registered, SuiteUserAdminMixin):
        registered.inlines = [*registered.inlines,
                              *(i for i in USER_INLINES if i not in registered.inlines)]
        registered.actions = [*(registered.actions or []),
                              *(a for a in USER_ACTIONS if a not in (registered.actions or []))]


@admin.register(LoginThrottle)
class LoginThrottleAdmin(SafeInputMixin, admin.ModelAdmin):
    list_display = ["identifier", "ip", "failures", "lockouts", "locked_until", "last_failure_at",
                    "consecutive_failures"]
    search_fields = ["identifier", "ip"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


adopt_user_admin()
