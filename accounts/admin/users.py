"""The suite's user admins and how a project's user model gets one."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext_lazy as _

from accounts.admin.actions import USER_ACTIONS
from accounts.admin.addresses import EmailAddressInline
from accounts.admin.filters import LockedFilter, VerifiedFilter
from accounts.admin.forms import (
    AS_SHOWN,
    PASSWORD_FIELDS,
    AsShownFormMixin,
    AuthUserAddForm,
    _without_passwords,
    without_password_fields,
)
from accounts.admin.search import UserSearchMixin
from accounts.admin.sessions import UserSessionInline
from accounts.admin.spelling import (
    address_column,
    address_help,
    with_address_column,
    with_address_shown,
)
from accounts.errors import AccountsError, FlowError
from accounts.flows.account import account_deactivate, account_reactivate
from accounts.flows.email import IN_USE, claims_lock, email_set_by_staff, held_elsewhere
from accounts.forms import normal_address, normal_form_first
from accounts.models import User
from accounts.users import email_field, in_reach, stores_is_active
from authsuite.admin_input import SafeInputMixin
from authsuite.admin_lists import EstimatedCountPaginator


def _no_password_page(request, object_id):
    raise Http404("Staff cannot set passwords.")


USER_INLINES = [EmailAddressInline, UserSessionInline]


# is_staff too: admin access is a privilege, and staff could otherwise open the admin to an
# account whose address they hold, or to one whose permissions were meant for the site only.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class OwnAccountKeptActiveMixin:
    """The staff member's own page: "Active" cannot be unticked there, as the Deactivate
    action leaves their own account out. The save would sign them out halfway and lock them
    out of the admin; another staff member disables the account if it must be."""

    def clean_is_active(self):
        active = self.cleaned_data.get("is_active")
        if self.initial.get("is_active") and not active:
            raise forms.ValidationError(
                _("You cannot deactivate your own account; another staff member can."),
                code="own_account")
        return active


class SuiteUserAdminMixin(SafeInputMixin):
    """What the suite adds to a user admin: addresses, sessions, its actions, no passwords."""

    inlines = USER_INLINES
    actions = USER_ACTIONS
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "user_permissions":
            # Each permission's label names its content type: read them with it, in one
            # query, not one query per permission (as Django's GroupAdmin does).
            queryset = kwargs.get("queryset", db_field.remote_field.model._default_manager)
            kwargs["queryset"] = queryset.select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and self._permissions_shown_read_only(request, obj):
            # Shown read-only, each permission is printed with its content type: read them
            # together, in one query, not one query per permission.
            field = obj._meta.get_field("user_permissions")
            prefetch_related_objects([obj], Prefetch(
                "user_permissions",
                queryset=field.remote_field.model._default_manager.select_related(
                    "content_type")))
        return obj

    def _permissions_shown_read_only(self, request, obj) -> bool:
        if not any(f.name == "user_permissions" for f in obj._meta.many_to_many):
            return False  # a custom user model without PermissionsMixin
        return (not self.has_change_permission(request, obj)
                or "user_permissions" in self.get_readonly_fields(request, obj))

    @property
    def address_as_shown(self):
        """The login address as staff read it (``spelling.ADDRESS_SHOWN``), on a page
        they may only view."""
        return address_column(self.model)

    def get_list_display(self, request):
        # The login address as staff must read it: a look-alike marked.
        return with_address_column(super().get_list_display(request), self.model)

    def get_list_display_links(self, request, list_display):
        return with_address_column(super().get_list_display_links(request, list_display),
                                   self.model)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # No editing in the list, whatever a project's admin sets in ``list_editable``: Django
        # saves a list's rows without asking, row by row, whether this staff member may
        # change that account, or which fields are read-only to them. Staff would make
        # themselves superusers there, or give a superuser's account their own address and
        # with it the account; the address would skip its checks (normal form, held by
        # another account, the page as shown). An account changes on its own page.
        changelist.list_editable = ()
        return changelist

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not stores_is_active(self.model):
            # Nowhere to keep it (AbstractBaseUser alone): every account is active.
            actions.pop("deactivate", None)
            actions.pop("reactivate", None)
        return actions

    def get_urls(self):
        # django.contrib.auth's UserAdmin routes "<id>/password/" to a set-password form.
        # Here that path answers 404 outright, instead of falling through to the catch-all
        # "<id>/" redirect: staff send a reset link, they never choose a password. Behind
        # the site's own checks as every admin page is (signed in, staff, a second factor
        # with the MFA site): to anyone else, the admin's answer is its sign-in page.
        return [path("<path:object_id>/password/",
                     self.admin_site.admin_view(_no_password_page)), *super().get_urls()]

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
        if obj is not None and not self.has_change_permission(request, obj):
            # Only viewed: the login address shown as staff must read it, a look-alike
            # marked. Nothing will be saved: nothing to compare.
            return with_address_shown(fieldsets)
        if obj is None or not fieldsets:
            return fieldsets
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
        if obj is not None and obj.pk == request.user.pk and "is_active" in form.base_fields:
            form = type(form.__name__, (OwnAccountKeptActiveMixin, form), {})
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
                # The input shows a look-alike's letters as they are: said beside it.
                help_text = address_help(self.initial.get(field, ""))
                if help_text:
                    self.fields[field].help_text = help_text

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
        elif "is_active" in form.changed_data and not obj.is_active:
            # Disabled on its page: as the Deactivate action does it, recorded as this staff
            # member's act (the save below then finds it disabled already).
            account_deactivate(obj, request=request, by=request.user)
        elif "is_active" in form.changed_data and obj.is_active:
            # Enabled again on its page: as the Reactivate action does it (recorded, and
            # shown to the owner), not a silent flip of the flag.
            account_reactivate(obj, request=request, by=request.user)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the address inline is saved: the rows the login address moves to are read
        # afresh, whatever staff edited in the inline on the same page.
        if change and email_field() in form.changed_data:
            email_set_by_staff(request, user=form.instance,
                               old_email=form.initial.get(email_field(), ""))


class UserAdmin(SuiteUserAdminMixin, UserSearchMixin, admin.ModelAdmin):
    """The admin of the suite's own user model."""

    list_display = ["email", "name", "is_active", "is_staff", "last_login", "date_joined"]
    list_filter = ["is_active", VerifiedFilter, "is_staff", LockedFilter, "last_login"]
    # Whole terms, each on an index (``accounts.admin.search``): an address (the login
    # address or another of the account's) or a name.
    search_fields = ["email__exact", "email_addresses__email__exact", "name__iexact"]
    search_lookups = ("name__iexact",)
    ordering = ["-date_joined"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "name"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                        "user_permissions"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    filter_horizontal = ["groups", "user_permissions"]


class AuthUserAdmin(SuiteUserAdminMixin, UserSearchMixin, auth_admin.UserAdmin):
    """``django.contrib.auth``'s UserAdmin, for projects on its User, without password pages."""

    add_form = AuthUserAddForm
    add_fieldsets = [(None, {"fields": ["username", "email"]})]
    fieldsets = [
        (None, {"fields": ["username"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
        *auth_admin.UserAdmin.fieldsets[2:],
    ]
    list_filter = ["is_active", VerifiedFilter, "is_staff", LockedFilter, "last_login"]
    # Whole terms, each on an index (``accounts.admin.search``): an address (the login
    # address or another of the account's) or a username.
    search_fields = ["email__iexact", "email_addresses__email__exact", "username__exact"]
    search_lookups = ("username__exact",)
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
        "paginator": (EstimatedCountPaginator if project_admin.paginator is Paginator
                      else project_admin.paginator),
    })
