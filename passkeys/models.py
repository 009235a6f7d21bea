from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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
        # The admin's list, newest first: read in index order, not sorted whole.
        indexes = [models.Index(fields=["created_at", "id"], name="passkeys_passkey_created")]
        verbose_name = _("passkey")

    def __str__(self) -> str:
        return self.name

    @property
    def synced(self) -> bool:
        return self.backup_eligible


class PendingSignup(models.Model):
    """A passkey-only sign-up waiting for its mailed link to be followed.

    No account exists until the link's passkey is created: an address typed on the sign-up
    form is not yet known to be the typist's, so it must not hold the address against its
    owner (who may sign up, reset a password or ask for a sign-in link as if it were never
    typed). Only a keyed digest of the link's token is stored.
    """

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=150, blank=True, default="")
    #: The user handle the authenticator is given, kept by the account once it exists.
    handle = models.CharField(max_length=64, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # A new request, and an account taking the address, void the earlier links.
            models.Index(fields=["email"], name="passkeys_pending_email"),
            # The periodic clean-up removes the links that can no longer be used.
            models.Index(fields=["expires_at"], name="passkeys_pending_expiry"),
        ]
        constraints = [
            # One live link per address: two requests at once for an address nobody has
            # (no row to lock) would otherwise each void nothing and leave two live links.
            models.UniqueConstraint(
                fields=["email"], condition=Q(used_at__isnull=True, voided_at__isnull=True),
                name="passkeys_pending_one_live_per_email",
            ),
        ]
        verbose_name = _("pending passkey sign-up")

    def __str__(self) -> str:
        return f"pending sign-up {self.pk}"
