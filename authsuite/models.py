from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from authsuite.spelling import staff_spelling


class OutboxMessage(models.Model):
    """An email waiting for, or done with, delivery.

    Written in the same transaction as the state change it reports, so a message exists if
    and only if the change committed. Secrets the message must carry (a magic-link token)
    sit encrypted in ``sealed_context`` and are erased once the message is delivered; staff
    see status, never content.

    A row with ``resolver`` set is a request whose message is not decided yet (a sign-in
    link asked for an address): its first delivery runs the resolver registered under that
    name, once, which rewrites it into an ordinary message or removes it when there is
    nothing to send (``authsuite.outbox.mail_enqueue_unresolved``); one still undecided at
    ``expires_at`` is failed without being decided.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    template = models.CharField(max_length=100)
    # A column added after the table's first release has a database default too (db_default):
    # during an upgrade the previous version's processes insert rows without it.
    #: The name of the resolver that decides this row's message at delivery; empty once
    #: decided, and for every message written as it is.
    resolver = models.CharField(max_length=100, blank=True, default="", db_default="")
    #: The name of the check that tells, before each attempt to send it, whether the
    #: message is still worth sending (its link still works); empty for none
    #: (``authsuite.outbox.guard_register``).
    guard = models.CharField(max_length=100, blank=True, default="", db_default="")
    to = models.EmailField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    context = models.JSONField(default=dict, blank=True)
    #: The language of the request that queued the message (``LocaleMiddleware``'s pick, or
    #: ``LANGUAGE_CODE``): it is rendered in it, whichever language the worker runs in;
    #: empty where none was active.
    language = models.CharField(max_length=35, blank=True, default="", db_default="")
    sealed_context = models.TextField(blank=True, default="")
    #: The message carried a secret that was erased when it failed for good: sending it
    #: again would deliver a mail without its link, so staff cannot retry it.
    secret_erased = models.BooleanField(default=False, db_default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    #: When the secret it carries (a link's token) stops working: a message not sent by
    #: then is failed, its secret erased, rather than mailing a dead link late.
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="authsuite_outbox_due"),
            models.Index(fields=["created_at"], name="authsuite_outbox_created"),
            # A person's mail by address: their account's export and its deletion.
            models.Index(fields=["to"], name="authsuite_outbox_recipient"),
            # The admin's filter and search by template, newest first.
            models.Index(fields=["template", "created_at"], name="authsuite_outbox_template"),
        ]
        verbose_name = _("outbox message")

    def __str__(self) -> str:
        # As the admin names the row (its page's title): a look-alike recipient marked.
        return f"{self.template} → {staff_spelling(self.to)} ({self.status})"
