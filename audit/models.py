"""The audit trail: append-only events, their place in the hash chain, signed checkpoints.

An event is written in the transaction of the change it records (a rolled-back change
leaves no event) by a plain INSERT, with a MAC keyed by the audit key: a request never
waits on a lock. A sealer then chains events in the order it sees them commit: each
:class:`EventSeal` stores the event's position and an HMAC over the previous seal's hash,
the position and the event's MAC. Tampering shows up in ``audit_verify``: a changed event
fails its MAC, a deleted, inserted or reordered one breaks the chain, and truncation
contradicts the signed head or a signed checkpoint.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        DENIED = "denied", _("Denied")

    #: Chosen before the insert so the MAC can cover an identity of the event.
    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    #: Lookups by actor and by action use the composite indexes below (their prefix).
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_repr = models.CharField(max_length=254, blank=True, default="")
    action = models.CharField(max_length=100)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    target_type = models.CharField(max_length=100, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_repr = models.CharField(max_length=254, blank=True, default="")
    ip = models.CharField(max_length=45, blank=True, default="", db_index=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    session_ref = models.CharField(max_length=16, blank=True, default="")
    #: Canonical JSON text (sorted keys, ASCII): stored as text so the bytes the MAC
    #: covers are the bytes read back, on every database.
    data = models.TextField(blank=True, default="{}")
    mac = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor_id", "-id"], name="audit_event_actor_recent"),
            models.Index(fields=["action", "-id"], name="audit_event_action_recent"),
            # Only events done to an account are looked up by target (its owner's page):
            # the others need not pay for this index on every insert.
            models.Index(fields=["target_id", "-id"], name="audit_event_user_target_recent",
                         condition=models.Q(target_type="user")),
            # The admin's search: an actor's address, a request id (``EventAdmin``).
            models.Index(fields=["actor_repr"], name="audit_event_actor_repr"),
            models.Index(fields=["request_id"], name="audit_event_request"),
            # The admin's outcome filter: failures and denials are few, and looked for.
            models.Index(fields=["outcome", "-id"], name="audit_event_unsuccessful",
                         condition=~models.Q(outcome="success")),
        ]
        verbose_name = _("audit event")

    def __str__(self) -> str:
        return f"{self.action} ({self.outcome}) #{self.pk}"


class PendingSeal(models.Model):
    """Work queue of events not yet chained (deleted once sealed)."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, primary_key=True,
                                 related_name="+")

    def __str__(self) -> str:
        return f"pending {self.event_id}"


class EventSeal(models.Model):
    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="seal")
    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"seal {self.seq}"


class ChainHead(models.Model):
    """The last link of the chain: one row, locked by the sealer."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    checkpoint_seq = models.BigIntegerField(default=0)
    # A column added after the table's first release has a database default too (db_default):
    # during an upgrade the previous version's processes insert rows without it.
    #: Keyed over (seq, hash, checkpoint_seq): cutting events off the end of the chain and
    #: moving the head back to match needs the audit key.
    signature = models.CharField(max_length=64, blank=True, default="", db_default="")

    def __str__(self) -> str:
        return f"head {self.seq}"


class Checkpoint(models.Model):
    """A signed statement "the chain had this hash at this position", for export."""

    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"checkpoint {self.seq}"


class AlertSent(models.Model):
    """When a rule last mailed a user, for throttling duplicates."""

    rule = models.CharField(max_length=100)
    user_id = models.CharField(max_length=64)
    key = models.CharField(max_length=200, blank=True, default="")
    sent_at = models.DateTimeField(default=timezone.now)
    #: sent_at in whole throttle periods: two events racing to alert within one period
    #: cannot both insert their row, so only one of them mails. None when nothing is
    #: throttled (NULLs never collide).
    window = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["rule", "user_id", "key", "-sent_at"],
                                name="audit_alert_recent")]
        constraints = [models.UniqueConstraint(fields=["rule", "user_id", "key", "window"],
                                               name="audit_alert_once_per_window")]

    def __str__(self) -> str:
        return f"{self.rule} → {self.user_id}"


class AlertOptOut(models.Model):
    """A user turned off one optional (non-critical) alert rule."""

    user_id = models.CharField(max_length=64)
    rule = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "rule"],
                                               name="audit_alert_optout_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} ✗ {self.rule}"

