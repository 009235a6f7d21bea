"""Forms only validate shape; the flows decide. Field limits stop oversized input early."""

from __future__ import annotations

import functools

from django import forms
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from accounts.app_settings import app_settings
from accounts.credentials import PASSWORD_MAX
from accounts.hashers import normalize_password
from accounts.models import normalize_email, validate_mail_domain, validate_public_domain
from accounts.scripts import validate_scripts
from authsuite.text import control_characters_message, has_control_characters


class AddressField(forms.EmailField):
    """An email address, validated in the normal form the suite stores and compares
    (:func:`accounts.models.normalize_email`): a form that folds into something too long
    or malformed is refused here, not by the database, and so is one mail cannot reach."""

    default_validators = [*forms.EmailField.default_validators, validate_mail_domain]

    def to_python(self, value):
        return normalize_email(super().to_python(value))

    def run_validators(self, value):
        # Django's validator and the suite's domain checks answer "Enter a valid email
        # address." each: what is no address at all would be told so two or three times.
        try:
            super().run_validators(value)
        except forms.ValidationError as error:
            distinct = {(e.code, *e): e for e in error.error_list}  # *e: its message
            raise forms.ValidationError(list(distinct.values())) from None


class NewAddressField(AddressField):
    """An address being registered (signing up, adding one): also on a domain mail from a
    public service can reach (:func:`accounts.models.validate_public_domain`), and in no mix
    of scripts that lets it pass for another (:func:`accounts.scripts.validate_scripts`)."""

    default_validators = [*AddressField.default_validators, validate_public_domain,
                          validate_scripts]


class NormalFormFirstMixin:
    """For an address field the suite did not make (a user admin's, from the project's model
    or form): the address is validated in its normal form, as :class:`AddressField` validates
    it, so that what sign-up accepts (``ｕｓｅｒ＠ｅｘａｍｐｌｅ.ｃｏｍ``) is accepted here too,
    instead of failing the field's own check before anything folds it.

    ``has_changed`` compares addresses, not spellings: the stored address retyped in other
    letters (``Ann@Example.com`` for ``ann@example.com``, a full-width letter: one normal
    form, one mailbox) is the address left as it was, kept in its stored spelling. Only
    another address is a change, which staff verify and the old address is told of."""

    def clean(self, value):
        return super().clean(normalize_email(value) if isinstance(value, str) else value)

    def has_changed(self, initial, data):
        if isinstance(initial, str) and initial and isinstance(data, str) and (
                normalize_email(data) == normalize_email(initial)):
            return False
        return super().has_changed(initial, data)


@functools.cache
def _normal_form_first_class(field_class: type) -> type:
    return type(field_class.__name__, (NormalFormFirstMixin, field_class), {})


def normal_form_first(field: forms.Field) -> forms.Field:
    """``field`` itself (a form instance's own copy), now validating in the normal form."""
    if not isinstance(field, NormalFormFirstMixin):
        field.__class__ = _normal_form_first_class(type(field))
    return field


def normal_address(value: str) -> str:
    """``value``, an address being registered, in its normal form, or a ValidationError if
    that is no address."""
    return NewAddressField(max_length=254).clean(value)


def _email_field(*, new: bool = False, **attrs) -> forms.EmailField:
    return (NewAddressField if new else AddressField)(
        label=_("Email address"), max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", **attrs}),
    )


def _new_password_field(label) -> forms.CharField:
    """A new password: one longer than ``PASSWORD_MAX`` is a field error."""
    return forms.CharField(
        label=label, max_length=PASSWORD_MAX, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def checked_password_field(label, *, required: bool = True) -> forms.CharField:
    """The account's password, to be checked: no length limit here. One longer than any
    password set is refused by the check like any wrong password, unhashed
    (``credentials.password_matches``), counted by the lockout, in the same words: a field
    error of its own would say something else for a guess that is merely wrong."""
    return forms.CharField(
        label=label, required=required, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CleanTextMixin:
    """Control characters have no place in a name or an address; refuse them, by name."""

    # cleaned, value: a form's password among the rest.
    @sensitive_variables("cleaned", "value")
    def clean(self):
        cleaned = super().clean()
        # A copy: add_error() drops the field from cleaned_data while we iterate.
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and "password" not in name and has_control_characters(
                value
            ):
                self.add_error(name, forms.ValidationError(
                    control_characters_message(value), code="control_characters"))
        return cleaned


class LoginForm(CleanTextMixin, forms.Form):
    email = _email_field(autofocus=True)
    email.widget.attrs["autocomplete"] = "username"
    password = checked_password_field(_("Password"))
    remember = forms.BooleanField(label=_("Keep me signed in"), required=False)


class SignupForm(CleanTextMixin, forms.Form):
    name = forms.CharField(
        label=_("Name (optional)"), max_length=150, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = _email_field(new=True)
    # The address is the account's username: a password manager saves the new password
    # under it (the token a sign-up form's identifier takes, beside "new-password").
    email.widget.attrs["autocomplete"] = "username"
    password = _new_password_field(_("Password"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        honeypot = app_settings.SIGNUP_HONEYPOT_FIELD
        if honeypot:
            self.fields[honeypot] = forms.CharField(
                required=False, max_length=200, label=_("Leave this field empty"),
                widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
            )

    def honeypot_value(self) -> str:
        name = app_settings.SIGNUP_HONEYPOT_FIELD
        return self.cleaned_data.get(name, "") if name else ""


class EmailForm(CleanTextMixin, forms.Form):
    """An address to look up (a sign-in link, a password reset)."""

    email = _email_field(autofocus=True)


class NewEmailForm(CleanTextMixin, forms.Form):
    """An address to register (adding one, a passkey sign-up)."""

    email = _email_field(new=True, autofocus=True)


class PasswordForm(forms.Form):
    password = checked_password_field(_("Password"))


class NewPasswordForm(forms.Form):
    """A new password, typed twice. The two copies are compared in the normal form the
    password is hashed in: "é" typed as one code point and as "e" plus an accent (one
    keyboard and another, a paste) is the same password, not two that differ."""

    new_password = _new_password_field(_("New password"))
    new_password_confirm = _new_password_field(_("New password (again)"))

    @sensitive_variables()
    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password"), cleaned.get("new_password_confirm")
        if first and second and normalize_password(first) != normalize_password(second):
            self.add_error("new_password_confirm", _("The two passwords differ."))
        return cleaned


class PasswordChangeForm(NewPasswordForm):
    """The current password (for an account that has one), then the new one twice."""

    current_password = checked_password_field(_("Current password"), required=False)
    field_order = ["current_password", "new_password", "new_password_confirm"]

    def __init__(self, *args, has_password: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not has_password:
            # Its first password: the recent authentication is the proof.
            del self.fields["current_password"]


class CloseAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that closing my account cannot be undone."), required=True
    )
