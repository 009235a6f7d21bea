"""The user admin's address rows: their form, formset and inline, changed through the email flows."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin.spelling import AddressShownWidget
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import (
    IN_USE,
    email_add_by_staff,
    email_remove,
    email_verify_by_staff,
    held_elsewhere,
)
from accounts.forms import NewAddressField
from accounts.models import EmailAddress, normalize_email
from accounts.users import user_email


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
            # Shown as staff must read it: a look-alike marked (``staff_spelling``).
            self.fields["email"] = forms.CharField(label=self.fields["email"].label,
                                                   disabled=True, required=False,
                                                   widget=AddressShownWidget)
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
