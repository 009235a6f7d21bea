from django import forms
from django.utils.translation import gettext_lazy as _

from authsuite.text import refuse_control_characters
from mfa.app_settings import app_settings


class CodeField(forms.CharField):
    """A code's text: control characters in it are an error that names them, once the
    field's own checks pass, as the accounts forms check them. Among those checks, Django's
    refuses a NUL ("Null characters are not allowed."): a validator of the field's would
    refuse it a second time, in other words ("Remove the control character U+0000.")."""

    def clean(self, value):
        value = super().clean(value)
        refuse_control_characters(value)
        return value


class CodeForm(forms.Form):
    code = CodeField(
        label=_("Code"), max_length=32, strip=True,
        widget=forms.TextInput(attrs={
            "autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
            "autocapitalize": "off", "spellcheck": "false",
        }),
        help_text=_("The 6-digit code your authenticator app shows."),
    )


class RecoveryCodeForm(forms.Form):
    """A recovery code is letters and digits: a text keyboard, no numeric keypad."""

    kind = forms.CharField(widget=forms.HiddenInput, initial="recovery")
    code = CodeField(
        label=_("Recovery code"), max_length=32, strip=True,
        widget=forms.TextInput(attrs={
            "autocomplete": "off", "inputmode": "text", "autocapitalize": "off",
            "spellcheck": "false",
        }),
        help_text=_("One of the codes you saved, like 4k2m-9x7q-h3vd. Each works once."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", None)
        kwargs.setdefault("auto_id", "id_recovery_%s")
        super().__init__(*args, **kwargs)


class ChallengeForm(CodeForm):
    trust_browser = forms.BooleanField(
        label=_("Don't ask again on this browser"), required=False,
        # A trusted browser skips the code at sign-in only: a sensitive action asks for
        # both factors whenever the account has two, so that a stolen cookie and a phished
        # password cannot remove the factor meant to stop them. Said here, where it is chosen.
        help_text=_("Signing in on this browser will skip this step. Sensitive changes, such "
                    "as removing a sign-in factor or changing your password or email address, "
                    "will still ask for it."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = app_settings.TRUST_BROWSER_DAYS
        if days <= 0:
            del self.fields["trust_browser"]
        else:
            self.fields["trust_browser"].label = _(
                "Don't ask again on this browser for %(days)d days") % {"days": days}


class ActivateForm(forms.Form):
    code = CodeField(
        label=_("Code from the app"), max_length=16, strip=True,
        # Any script's decimal digits (mfa.codes): a pattern of ASCII digits would stop a
        # phone's full-width or Arabic-Indic ones before they reach the server.
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": r"[\p{Nd}\s]*", "autofocus": True,
                                      "autocapitalize": "off", "spellcheck": "false"}),
    )
