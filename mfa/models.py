"""Second factors, built on django-otp's ``Device`` contract.

django-otp's own TOTP device keeps its key in clear and its static tokens carry 40 bits in
clear; these devices encrypt the TOTP key at rest and store recovery codes only as keyed
hashes, with single use enforced by one conditional UPDATE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from authsuite.useragent import row_device_label
from mfa.app_settings import app_settings


class TOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (RFC 6238)."""

    sealed_key = models.TextField()
    #: The last time step accepted: a code at or before it is a replay.
    last_t = models.BigIntegerField(default=-1)

    class Meta:
        verbose_name = _("authenticator app")

    def get_throttle_factor(self):
        return app_settings.THROTTLE_FACTOR

    @sensitive_variables("token")
    def verify_token(self, token):
        """django-otp's check of ``token`` as typed: read once (``mfa.codes``), then verified."""
        from mfa import codes

        return self.verify_and_record(codes.read(token).text)

    @sensitive_variables("code")
    def verify_and_record(self, code: str, **record) -> bool:
        """Verify ``code`` (read by ``mfa.codes.read``) and, when it is accepted, set
        ``record`` in the same UPDATE."""
        from mfa import totp

        return totp.verify(self, code, **record)


class RecoveryCodeSet(TimestampMixin, ThrottlingMixin, Device):
    """The user's current set of recovery codes."""

    class Meta:
        verbose_name = _("recovery codes")

    def get_throttle_factor(self):
        return app_settings.THROTTLE_FACTOR

    @sensitive_variables("token")
    def verify_token(self, token):
        """django-otp's check of ``token`` as typed: read once (``mfa.codes``), then used up."""
        from mfa import codes

        return self.verify_and_record(codes.read(token).text)

    @sensitive_variables("code")
    def verify_and_record(self, code: str, **record) -> bool:
        """Use up ``code`` (read by ``mfa.codes.read``) and, when it was unused, set
        ``record`` on this set."""
        from mfa import recovery

        if recovery.consume(self, code) is None:
            return False
        if record:
            type(self).objects.filter(pk=self.pk).update(**record)
        return True

    def remaining(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeSet, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.device_id}"


class TrustedBrowser(models.Model):
    """A browser where the user chose "don't ask again" after passing the second factor."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    digest = models.CharField(max_length=64)
    # A column added after the table's first release has a database default too (db_default):
    # during an upgrade the previous version's processes insert rows without it.
    user_agent = models.CharField(max_length=512, blank=True, default="", db_default="")
    device = models.CharField(max_length=200, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="mfa_trusted_user")]

    def __str__(self) -> str:
        return f"{self.device} ({self.user_id})"

    @property
    def device_label(self) -> str:
        """The device, as pages show it: in the active language (``device`` keeps it in
        English)."""
        return row_device_label(self.user_agent, self.device)


class EnforcementState(models.Model):
    """When the MFA requirement first applied to a user (start of the grace period)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    required_since = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"MFA required for {self.user_id} since {self.required_since}"
