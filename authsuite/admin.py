from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.db import connections, router
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from authsuite import signals
from authsuite.admin_input import SafeInputMixin
from authsuite.admin_lists import EstimatedCountMixin, WholeTermSearchMixin
from authsuite.models import OutboxMessage
from authsuite.outbox import enqueue
from authsuite.spelling import address_column


def templates_in_use() -> list[str]:
    """The templates the outbox holds messages of, read from the ``(template, created_at)``
    index one template at a time (a loose index scan), not by a DISTINCT over every row."""
    connection = connections[router.db_for_read(OutboxMessage)]
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE t(template) AS ("  # noqa: S608 - the table's name, no input
            f" SELECT MIN(template) FROM {table}"
            f" UNION ALL SELECT (SELECT MIN(template) FROM {table} WHERE template > t.template)"
            f" FROM t WHERE t.template IS NOT NULL)"
            f" SELECT template FROM t WHERE template IS NOT NULL")
        return [row[0] for row in cursor.fetchall()]


class TemplateFilter(admin.SimpleListFilter):
    """Messages of one template; the choices read from an index (``templates_in_use``)."""

    title = _("template")
    parameter_name = "template"

    def lookups(self, request, model_admin):
        return [(name, name) for name in templates_in_use()]

    def queryset(self, request, queryset):
        return queryset.filter(template=self.value()) if self.value() else queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(EstimatedCountMixin, SafeInputMixin, WholeTermSearchMixin,
                         admin.ModelAdmin):
    """Delivery status only: staff never see message bodies (they may hold sign-in links).
    The recipient shows as staff must read it: a look-alike address marked
    (``authsuite.spelling``). Nobody adds, changes or deletes a row here, superusers
    included: staff with the change permission retry delivery, and the periodic sweep
    removes old rows."""

    list_display = ["template", address_column(OutboxMessage, "to"), "status", "attempts",
                    "created_at", "sent_at", "last_error"]
    list_filter = ["status", TemplateFilter, "created_at"]
    # Whole terms, each on an index: a recipient's address (in any case) or a template.
    search_fields = ["to__exact", "template__exact"]
    fields = ["template", "resolver", address_column(OutboxMessage, "to"), "user", "language",
              "status", "attempts", "secret_erased", "next_attempt_at", "claimed_at", "created_at",
              "sent_at", "last_error"]
    readonly_fields = fields
    actions = ["retry_now"]

    def search_filter(self, term: str) -> Q:
        return Q(to__in={term, term.lower()}) | Q(template=term)

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
