"""Forms of the user admin: password fields taken out, the as-shown digest, adding an auth User."""

from __future__ import annotations

import functools
import hashlib

from django import forms
from django.contrib.auth.models import User as AuthUser
from django.utils.translation import gettext_lazy as _

from accounts.flows.email import address_held
from accounts.forms import normal_address

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
