"""Staff manage users here: search, filters, addresses and sessions, and safe actions.

Staff never see or set a raw password: the password field is not on the form and the
admin's set-password page is not routed; they send a reset link instead.
"""

from __future__ import annotations

import functools
import hashlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.models import User as AuthUser
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.http import Http404
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts import lockout, sessions
from accounts.app_settings import app_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.account import account_deactivate
from accounts.flows.email import (
    IN_USE,
    address_held,
    claims_lock,
    email_add_by_staff,
    email_remove,
    email_set_by_staff,
    email_verify_by_staff,
    held_elsewhere,
)
from accounts.flows.password import password_reset_send
from accounts.forms import AddressField, NewAddressField, normal_address, normal_form_first
from accounts.models import (
    EmailAddress,
    LoginThrottle,
    PasswordChangeRequired,
    User,
    UserSession,
    normalize_email,
)
from accounts.users import email_field, in_reach, stores_is_active, user_email, within_reach
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
    """An address row in the user admin.

    A saved row's address never changes (links were mailed to it, events name it), and a
    verified one stays verified: staff add the new address as a row of its own, or change
    the login address at the top of the page, which moves the primary row. A new row's
    address is taken in its normal form. Ticking "verified" verifies the address as its link
    would, refused for an address another account holds."""

    class Meta:
        model = EmailAddress
        fields = ["email", "verified"]
        field_classes = {"email": NewAddressField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # Shown as saved: not validated again (a row from before a stricter check
            # must not make the account's page impossible to save).
            self.fields["email"] = forms.CharField(label=self.fields["email"].label,
                                                   disabled=True, required=False)
            self.fields["verified"].disabled = self.instance.verified

    @property
    def verifying(self) -> bool:
        return bool(self.cleaned_data.get("verified")) and (
            self.instance.pk is None or "verified" in self.changed_data)

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        user = self.instance.user if self.instance.user_id is not None else None
        if self.verifying and email and held_elsewhere(email, user=user):
            raise forms.ValidationError(_(IN_USE), code="email_in_use")
        return cleaned


class EmailAddressFormSet(forms.BaseInlineFormSet):
    """The addresses of one account, changed through the same flows as the user's own page:
    each addition, verification and removal is recorded (staff as the actor) and alerted,
    and an address removed has its pending links voided. The login address's row stays:
    staff change the address instead."""

    request = None  # set per request by ``EmailAddressInline.get_formset``

    def clean(self):
        super().clean()
        ids = [form.instance.pk for form in self.initial_forms]
        if len(ids) != len(set(ids)):
            raise forms.ValidationError(_("A row is listed twice. Reload the page."),
                                        code="row_twice")
        login_address = normalize_email(user_email(self.instance))
        saved = set(EmailAddress.objects.filter(user=self.instance).values_list(
            "email", flat=True)) if self.instance.pk is not None else set()
        for form in self.extra_forms:
            if not form.has_changed():
                continue
            if form.cleaned_data.get("email") == login_address:
                form.add_error("email", forms.ValidationError(
                    _("This is the address the account signs in with."), code="email_login"))
            elif form.cleaned_data.get("email") in saved:
                form.add_error("email", forms.ValidationError(
                    _("The account has this address already."), code="email_exists"))
        if any(form.instance.primary for form in self.deleted_forms):
            raise forms.ValidationError(
                _("The account signs in with its primary address: change the email address "
                  "above instead of removing it."), code="email_primary")

    def save_new(self, form, commit=True):
        return email_add_by_staff(self.request, user=self.instance,
                                  email=form.cleaned_data["email"],
                                  verified=form.cleaned_data.get("verified", False))

    def save_existing(self, form, obj, commit=True):
        if form.verifying:
            email_verify_by_staff(self.request, user=self.instance, email=obj.email)
            obj.refresh_from_db()
        return obj

    def delete_existing(self, obj, commit=True):
        try:
            email_remove(self.request, user=self.instance, address_id=obj.pk,
                         by=self.request.user)
        except FlowError as error:
            if error.code != AccountsError.EMAIL_NOT_FOUND:
                raise  # email_primary: made primary meanwhile


class EmailAddressInline(admin.TabularInline):
    model = EmailAddress
    form = EmailAddressForm
    formset = EmailAddressFormSet
    extra = 0
    fields = ["email", "primary", "verified", "created_at", "verified_at"]
    readonly_fields = ["primary", "created_at", "verified_at"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})

    def has_add_permission(self, request, obj=None):
        # On the add page the account has no rows yet: its login address becomes its
        # primary address, and others are added once it exists.
        return obj is not None and super().has_add_permission(request, obj)


class OpenSessionsFormSet(forms.BaseInlineFormSet):
    """No rows: the account's open sessions are listed for reading (``open_sessions``)."""

    shown = 50

    @cached_property
    def open_sessions(self) -> dict:
        """The latest ``shown`` open sessions, and how many there are in all."""
        if self.instance.pk is None:
            return {"rows": [], "total": 0}
        found = UserSession.objects.filter(user=self.instance, ended_at__isnull=True).order_by(
            "-last_seen_at", "-pk")
        rows = list(found[:self.shown + 1])
        total = len(rows) if len(rows) <= self.shown else found.count()
        return {"rows": rows[:self.shown], "total": total}


class UserSessionInline(admin.TabularInline):
    """The account's open sessions, the latest first (ended ones are in the audit trail).

    A list to read, not rows of the form: nothing of it is posted back with the page, so an
    account with any number of sessions can still be saved. Staff end them with the "End
    all sessions" action."""

    model = UserSession
    formset = OpenSessionsFormSet
    template = "admin/accounts/open_sessions.html"
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("open sessions")

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description=_("Send a password-reset link"), permissions=["change"])
def send_password_reset(modeladmin, request, queryset):
    count, no_address = 0, []
    for user in within_reach(request.user, queryset).filter(is_active=True):
        try:
            AddressField().clean(user_email(user))
        except forms.ValidationError:
            no_address.append(str(user))  # an account made elsewhere, with no address
            continue
        password_reset_send(request, user=user)
        count += 1
    modeladmin.message_user(request, _("Reset links sent to %(n)d users.") % {"n": count})
    if no_address:
        modeladmin.message_user(request, _("No link for these users, who have no email address "
                                           "a link could go to: %(users)s.")
                                % {"users": ", ".join(no_address)}, messages.WARNING)


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
PASSWORD_FIELDS = {"password", "password1", "password2", "usable_password"}


def _without_passwords(fields) -> list:
    """A fieldset's fields less any password field, on a line of its own or beside others."""
    kept = []
    for field in fields:
        if isinstance(field, list | tuple):
            line = tuple(f for f in field if f not in PASSWORD_FIELDS)
            if line:
                kept.append(line)
        elif field not in PASSWORD_FIELDS:
            kept.append(field)
    return kept


@functools.cache
def without_password_fields(form: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """``form`` less its password fields, keeping the rest of it: its other fields, widgets,
    ``clean_*`` methods and ``save()``.

    The fields go once the form's own ``__init__`` has run, which may set them up (Django's
    ``AdminUserCreationForm`` does). Their values are then None, never missing: a ``clean()``
    or ``save()`` of the project's own that reads ``cleaned_data["password1"]`` (as in
    Django's documented custom-user example) sets ``set_password(None)``, an unusable
    password. Django's password forms (``SetPasswordMixin``: ``UserCreationForm`` and the
    forms built on it) have no password to validate and give the account an unusable
    password where they would have set the one typed.
    """
    removed = PASSWORD_FIELDS & set(form.declared_fields)

    def __init__(self, *args, **kwargs):
        form.__init__(self, *args, **kwargs)
        for name in removed:
            self.fields.pop(name, None)

    def _clean_fields(self):
        form._clean_fields(self)
        for name in removed:
            self.cleaned_data[name] = None  # whatever was posted for it

    def no_password_to_validate(self, *args, **kwargs):
        return None

    def set_password_and_save(self, user, *args, commit=True, **kwargs):
        user.set_unusable_password()
        if commit:
            user.save()
        return user

    return type(form.__name__, (form,), {
        "__module__": form.__module__,
        "__init__": __init__,
        "_clean_fields": _clean_fields,
        "validate_passwords": no_password_to_validate,
        "validate_password_for_user": no_password_to_validate,
        "set_password_and_save": set_password_and_save,
    })


AS_SHOWN = "account_as_shown"


class AsShownFormMixin(forms.Form):
    """Staff save the account as the page showed it to them, or nothing.

    The admin writes every field of its form, changed or not. Had the user changed their
    login address, or closed their account, while the page was open, saving a new name
    would put the old address or the active flag back. The page carries a digest of what it
    showed; if the account no longer matches it, the form asks for a reload instead.
    """

    account_as_shown = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[AS_SHOWN].initial = self.as_shown()

    def as_shown(self) -> str:
        shown = []
        for name, field in self.fields.items():
            if name == AS_SHOWN or field.disabled:
                continue
            value = field.prepare_value(self.get_initial_for_field(field, name))
            if isinstance(value, list | tuple | set):
                value = sorted(str(item) for item in value)
            shown.append((name, str(value)))
        return hashlib.sha256(repr(shown).encode()).hexdigest()

    def clean(self):
        posted = self.data.get(self.add_prefix(AS_SHOWN))
        if posted and posted != self.fields[AS_SHOWN].initial:
            raise forms.ValidationError(
                _("This account changed while the page was open. Reload the page to see it "
                  "as it is now, then make your change again."), code="stale")
        return super().clean()


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
        # Another staff member's account (its address, its flags) is for superusers to
        # change: staff could otherwise take it over by giving it their own address, and
        # with it whatever that account may do (``accounts.users.within_reach``).
        if obj is not None and not in_reach(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not in_reach(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        # No password on any page of it: not the hash's summary (with its link to the
        # set-password page, not routed here), not a password to type on the add page.
        fieldsets = [(name, {**options, "fields": kept})
                     for name, options in super().get_fieldsets(request, obj)
                     if (kept := _without_passwords(options["fields"]))]
        if obj is None or not fieldsets or not self.has_change_permission(request, obj):
            return fieldsets  # nothing will be saved: nothing to compare
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": [*options["fields"], AS_SHOWN]}), *rest]

    def get_form(self, request, obj=None, **kwargs):
        base = getattr(self, "add_form", self.form) if obj is None else self.form
        if PASSWORD_FIELDS & set(getattr(base, "declared_fields", ())):
            # A project's form with a password in it (Django's UserCreationForm asks staff
            # for one, UserChangeForm shows the hash and links to the set-password page):
            # the same form less its password fields. An account added gets an unusable
            # password; the user sets one by reset link.
            kwargs.setdefault("form", without_password_fields(base))
        if "fields" in kwargs and kwargs["fields"] is None:
            # get_fields() asking for every field, to make fieldsets of an admin that
            # declares none: the fieldsets are what get_fieldsets() then makes of them.
            return super().get_form(request, obj, **kwargs)
        fields = kwargs.get("fields") or flatten_fieldsets(self.get_fieldsets(request, obj))
        shown = AS_SHOWN in fields
        kwargs["fields"] = [f for f in fields if f != AS_SHOWN]  # the form's own, not the model's
        form = super().get_form(request, obj, **kwargs)
        if shown:
            form = type(form.__name__, (AsShownFormMixin, form), {})
        field = email_field()
        if field not in form.base_fields:
            return form

        class AddressCheckedForm(form):
            """The login address staff type is normalised and may not be another account's."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                # Folded before the field's own check, as sign-up folds it: a full-width
                # "＠" is an "@" there, and must not be "not a valid address" here.
                normal_form_first(self.fields[field])

            def clean(self):
                cleaned = super().clean()
                if field not in self.changed_data:
                    # An account as it was (a legacy one without an address, or with one
                    # stored in another spelling), or its address retyped in other letters
                    # (the same mailbox: no change of address to verify or announce): kept
                    # as stored, not folded unasked.
                    if field in cleaned and field in self.initial:
                        cleaned[field] = self.initial[field]
                    return cleaned
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
            if isinstance(error, FlowError) and error.code not in (AccountsError.EMAIL_IN_USE,
                                                                   AccountsError.EMAIL_PRIMARY):
                raise
            # Another account took the address between the form's check and the save (it
            # signed up with it, say), or the user changed their addresses meanwhile (added
            # the one staff add, made primary the one staff remove): the admin's transaction
            # rolled everything back. Once more, and the form now says what stands in the way.
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
        site.unregister(model)
        site.register(model, adopted(type(registered)))


def adopted(project_admin: type) -> type:
    """The project's own user admin with the suite's in front of it: its pages, fields and
    actions, and the suite's rules (no password pages or fields, privileges and other staff
    accounts for superusers, the login address checked and changed through the flows, a
    stale page asked to reload) with the address and session inlines and the actions."""
    inlines = list(project_admin.inlines)
    actions = list(project_admin.actions or [])
    return type(project_admin.__name__, (SuiteUserAdminMixin, project_admin), {
        "__module__": project_admin.__module__,
        "__doc__": project_admin.__doc__,
        "inlines": [*inlines, *(i for i in USER_INLINES if i not in inlines)],
        "actions": [*actions, *(a for a in USER_ACTIONS if a not in actions)],
        "show_full_result_count": project_admin.show_full_result_count,
    })


class SuiteGroupAdmin(SafeInputMixin, auth_admin.GroupAdmin):
    """Django's group admin, answering bad input with a message; a group's permissions are
    for superusers to hand out, as a user's are (staff could otherwise give a group they
    belong to whatever they lack)."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser and "permissions" not in fields:
            fields.append("permissions")
        return fields


def adopt_group_admin(site=None) -> None:
    """Put ``SuiteGroupAdmin`` in place of Django's own group admin, if that is registered."""
    site = site or admin.site
    if type(site._registry.get(Group)) is auth_admin.GroupAdmin:
        site.unregister(Group)
        site.register(Group, SuiteGroupAdmin)


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
adopt_group_admin()
