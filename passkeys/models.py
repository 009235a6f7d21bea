from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_CREDENTIAL_ID_BYTES = 1023


class WebAuthnUser(models.Model):
    """The user handle sent to authenticators: 32 random bytes, never the primary key or
    the email, so a passkey reveals nothing about the account it belongs to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    handle = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"handle of {self.user_id}"


class Passkey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="passkeys")
    #: base64url of the credential id (at most 1023 bytes: 1364 characters).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    name = models.CharField(max_length=100)
    transports = models.JSONField(default=list, blank=True)
    attestation_format = models.CharField(max_length=32, blank=True, default="none")
    backup_eligible = models.BooleanField(default=False)
    backup_state = models.BooleanField(default=False)
    user_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    #: Set when a counter went backwards: the credential may have been cloned.
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("passkey")

    def __str__(self) -> str:
        return self.name

    @property
    def synced(self) -> bool:
        return self.backup_eligible
