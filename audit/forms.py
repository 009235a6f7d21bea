"""The security page's form: which optional alerts the user gets."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from audit.alerts.config import rules

#: The value of the form's hidden ``form`` field.
ALERTS_FORM = "alerts"


class AlertPreferencesForm(forms.Form):
    """The optional alerts ticked on the security page.

    A browser sends nothing for an unticked box, so a POST without ``enabled`` would read
    as every optional alert turned off, the same as an empty POST or one of another form.
    The hidden ``form`` field is always sent with this form: without it nothing is changed
    (an alert silenced by a request that never showed the boxes is an alert the user does
    not know they lost).
    """

    form = forms.CharField(widget=forms.HiddenInput, initial=ALERTS_FORM, error_messages={
        "required": _("These are not the alert settings: nothing was changed. Tick the "
                      "alerts you want below and save them.")})
    enabled = forms.MultipleChoiceField(required=False, error_messages={
        "invalid_choice": _("There is no such alert: nothing was changed. Choose among the "
                            "alerts below.")})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Critical rules too: their boxes are disabled (never sent), and one posted anyway
        # asks for what is already so.
        self.fields["enabled"].choices = [(rule.name, rule.subject) for rule in rules()]

    def clean_form(self) -> str:
        value = self.cleaned_data["form"]
        if value != ALERTS_FORM:
            raise forms.ValidationError(self.fields["form"].error_messages["required"],
                                        code="required")
        return value
