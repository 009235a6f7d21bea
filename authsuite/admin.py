from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from authsuite import signals
from authsuite.admin_input import SafeInputMixin
from authsuite.models import OutboxMessage
from authsuite.outbox import enqueue
from authsuite.spelling import address_column


@admin.register(OutboxMessage)
class OutboxMessageAdmin(SafeInputMixin, admin.ModelAdmin):
    """Delivery status only: staff never see message bodies (they may hold sign-in links).
    The recipient shows as staff must read it: a look-alike address marked
    (``authsuite.spelling``). Nobody adds, changes or deletes a row here, superusers
    included: staff with the change permission retry delivery, and the periodic sweep
    removes old rows."""

    list_display = ["template", address_column(OutboxMessage, "to"), "status", "attempts",
                    "created_at", "sent_at", "last_error"]
    list_filter = ["status", "template", "created_at"]
    search_fields = ["to", "template"]
    fields = ["template", "resolver", address_column(OutboxMessage, "to"), "user", "language",
              "status", "attempts", "secret_erased", "next_attempt_at", "claimed_at", "created_at",
              "sent_at", "last_error"]
    readonly_fields = fields
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A row deleted is a mail that never goes, unrecorded: the notice telling someone
        # what staff just did to their account (sessions ended, two-step verification
        # reset), their new sign-in link. Deleting an account asks nothing of this: its rows
        # are set aside (SET_NULL), and its delivered mail erased by the accounts app's
        # own receiver (``accounts.flows.account.account_forget``), not by staff here.
        return False

    def has_retry_permission(self, request) -> bool:
        # Django's own change permission; has_change_permission is off (rows are read-only).
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    @admin.action(description=_("Retry delivery now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        from django.utils import timezone

        retryable = queryset.filter(status__in=[OutboxMessage.Status.PENDING,
                                                OutboxMessage.Status.FAILED])
        # A link request that failed for good before it was decided is not decided now,
        # long after it was asked for: it would mail a fresh link nobody is waiting for.
        gone = Q(secret_erased=True) | Q(status=OutboxMessage.Status.FAILED, resolver__gt="")
        lost = retryable.filter(gone).count()
        ids = list(retryable.exclude(gone).values_list("pk", flat=True))
        OutboxMessage.objects.filter(pk__in=ids, status=OutboxMessage.Status.FAILED).update(
            status=OutboxMessage.Status.PENDING, attempts=0)
        OutboxMessage.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
        for message_id in ids:
            enqueue.queue_delivery(message_id)
        # Mail staff sent again (a sign-in link, a notice of what staff did) is on the
        # record, with who asked and which rows: its recipients get a second message.
        if ids or lost:
            signals.outbox_retried.send(sender=OutboxMessage, request=request, by=request.user,
                                        messages=ids, not_sent=lost)
        self.message_user(request, _("%(n)d messages queued.") % {"n": len(ids)})
        if lost:
            # A sign-in or reset link that failed for good has expired anyway and its secret
            # is gone: the user asks for a new one.
            self.message_user(request, _(
                "%(n)d messages carried a link that is no longer kept and were not sent again; "
                "the user can request a new one.") % {"n": lost}, level="warning")
