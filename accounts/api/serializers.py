"""API input shapes. Limits match the HTML forms; the flows decide everything else."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables
from rest_framework import serializers

from accounts.forms import PASSWORD_MAX
from accounts.models import normalize_email, validate_mail_domain, validate_public_domain
from accounts.scripts import validate_scripts
from authsuite.text import control_characters_message, has_control_characters


class StrictStringMixin:
    """A JSON number, boolean or object is not text: refuse it rather than convert it.

    DRF's CharField turns ``12345`` into ``"12345"``; a client that sends a password or a
    token of the wrong type has a bug, and the API says so instead of acting on a guess.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringField(StrictStringMixin, serializers.CharField):
    pass


class EmailField(StrictStringMixin, serializers.EmailField):
    """An address, validated in the normal form the suite stores and compares; ``new``: one
    being registered, also on a domain mail can reach (``validate_public_domain``) and in no
    mix of scripts that lets it pass for another (``validate_scripts``: its own error code,
    ``email_mixed_script``)."""

    def __init__(self, *, new: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_mail_domain)
        if new:
            self.validators += [validate_public_domain, validate_scripts]

    def to_internal_value(self, data):
        return normalize_email(super().to_internal_value(data))

    def run_validators(self, value):
        # As the form's field (accounts.forms.AddressField): each message once.
        try:
            super().run_validators(value)
        except serializers.ValidationError as error:
            raise serializers.ValidationError(list(dict.fromkeys(error.detail))) from None


# Not a docstring: drf-spectacular would describe every serializer that mixes it in with it.
# Text fields hold no control character, passwords excepted (the schema gives the others a
# ``pattern`` that says so: ``authsuite.api.schema.SuiteAutoSchema``).
class NoControlCharsMixin:
    def refuses_control_characters_in(self, name: str) -> bool:
        return "password" not in name

    # attrs, value: a serializer's password among the rest.
    @sensitive_variables("attrs", "value")
    def validate(self, attrs):
        for name, value in attrs.items():
            if (isinstance(value, str) and self.refuses_control_characters_in(name)
                    and has_control_characters(value)):
                raise serializers.ValidationError({name: [control_characters_message(value)]})
        return super().validate(attrs)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: "maybe", 0 or "no" are mistakes, not answers (DRF's own field
    reads "no" and 0 as false, and "yes" and 1 as true)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """ASCII digits, or a JSON integer: DRF's own field also takes "²", " 7 " and 7.0."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not (data.isascii() and data.isdigit() and len(data) <= 19):
            self.fail("invalid")
        if not isinstance(data, str | int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def password_field() -> serializers.CharField:
    """A new password: one longer than ``PASSWORD_MAX`` is a field error."""
    return StringField(max_length=PASSWORD_MAX, trim_whitespace=False,
                       style={"input_type": "password"})


def checked_password_field(**kwargs) -> serializers.CharField:
    """The account's password, to be checked: no length limit here (see
    ``accounts.forms.checked_password_field``); the check refuses one longer than any
    password set like any wrong password, unhashed."""
    return StringField(trim_whitespace=False, style={"input_type": "password"}, **kwargs)


def token_field() -> serializers.CharField:
    return StringField(max_length=128)


class LoginSerializer(NoControlCharsMixin, serializers.Serializer):
    email = EmailField(max_length=254)
    password = checked_password_field()
    remember = StrictBooleanField(default=False)


class SignupSerializer(NoControlCharsMixin, serializers.Serializer):
    email = EmailField(new=True, max_length=254)
    password = password_field()
    name = StringField(max_length=150, required=False, allow_blank=True, default="")


class EmailSerializer(NoControlCharsMixin, serializers.Serializer):
    email = EmailField(max_length=254)


class NewEmailSerializer(NoControlCharsMixin, serializers.Serializer):
    email = EmailField(new=True, max_length=254)


class TokenSerializer(serializers.Serializer):
    token = token_field()


class EmailVerifySerializer(TokenSerializer):
    #: The account's password: needed unless the caller is signed in as the account.
    password = checked_password_field(required=False, allow_blank=True)


class PasswordSerializer(serializers.Serializer):
    password = checked_password_field()


class NewPasswordSerializer(serializers.Serializer):
    new_password = password_field()


class PasswordChangeSerializer(NewPasswordSerializer):
    #: Needed when the account has a password (``password_required`` without it).
    current_password = checked_password_field(required=False, allow_blank=True)


class ResetConfirmSerializer(serializers.Serializer):
    token = token_field()
    new_password = password_field()


class LoginResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["authenticated", "pending"])
    stage = serializers.CharField(
        required=False,
        help_text="The stage a pending sign-in waits at: `verify_email`, `mfa`, `mfa_enroll`, "
                  "`password_change_required`, or one a project adds (the README says which "
                  "endpoint passes each).")
    url = serializers.CharField(
        required=False,
        help_text="The suite's page for that stage; a front end of its own passes the stage "
                  "through the API instead.")
    message = serializers.CharField(required=False, help_text="What the stage asks, for a "
                                    "person, in the request's language.")
    methods = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="At the `mfa` stage: the ways through it the account has now (`totp`, "
                  "`passkey`, `recovery_code`); empty when none is left.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class UserSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField(allow_blank=True)


class AuthRecordSerializer(serializers.Serializer):
    auth_time = serializers.IntegerField()
    amr = serializers.ListField(child=serializers.CharField())
    acr = serializers.CharField()


class SessionStateSerializer(serializers.Serializer):
    authenticated = serializers.BooleanField()
    user = UserSerializer(allow_null=True)
    auth = AuthRecordSerializer(allow_null=True)
    pending_stage = serializers.CharField(allow_null=True)


class EmailAddressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    primary = serializers.BooleanField()
    verified = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class UserSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device = serializers.CharField(
        help_text="A readable name of the browser and system (\"Firefox 128 on Ubuntu\"), in "
                  "the request's language; for display, not to compare.")
    ip = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    remember = serializers.BooleanField()
    current = serializers.BooleanField()
