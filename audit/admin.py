"""The audit trail in the admin: read-only for everyone, superusers included.

The list pages by key (``?before=<id>``) instead of by offset and never counts the table,
so ten million events list as fast as a thousand. Filtered selections export as CSV or
JSON Lines.
"""

from __future__ import annotations

import csv
import json

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from audit import chain
from audit.models import Checkpoint, Event

PAGE = 100


class KeysetChangeList(ChangeList):
    """Pages with ``?before=<id>``; no COUNT, no OFFSET."""

    def get_filters_params(self, params=None):
        params = super().get_filters_params(params)
        params.pop("before", None)
        return params

    def get_results(self, request):
        queryset = self.queryset
        before = request.GET.get("before", "")
        if before.isdigit():
            queryset = queryset.filter(pk__lt=int(before))
        rows = list(queryset.order_by("-pk")[: self.list_per_page + 1])
        self.result_list = rows[: self.list_per_page]
        self.has_more = len(rows) > self.list_per_page
        self.next_before = self.result_list[-1].pk if self.has_more else None
        self.result_count = len(self.result_list)
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.can_show_all = False
        self.multi_page = False
        self.paginator = self.model_admin.get_paginator(request, self.result_list, PAGE)


class DateRangeFilter(admin.SimpleListFilter):
    title = _("date")
    parameter_name = "period"

    def lookups(self, request, model_admin):
        return [("1", _("Last 24 hours")), ("7", _("Last 7 days")), ("30", _("Last 30 days"))]

    def queryset(self, request, queryset):
        if self.value() in {"1", "7", "30"}:
            from datetime import timedelta

            from django.utils import timezone

            return queryset.filter(
                occurred_at__gte=timezone.now() - timedelta(days=int(self.value()))
            )
        return queryset


class ActionFilter(admin.SimpleListFilter):
    """Actions known from the declarations: no DISTINCT scan over a huge table."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        from audit.registry import declarations

        known = {d.action for d in declarations()} | {
            "audit.alert.sent", chain.RETENTION_ACTION, "auth.login.failed",
        }
        return [(a, a) for a in sorted(known)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ActorFilter(admin.SimpleListFilter):
    title = _("actor")
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        return [("_system", _("System / anonymous"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "_system":
            return queryset.filter(actor_id="")
        if value:
            return queryset.filter(actor_id=value)
        return queryset


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "action", "outcome", "actor_repr", "target_repr", "ip"]
    list_filter = [
        "outcome", DateRangeFilter, ActorFilter, ActionFilter,
    ]
    search_fields = ["=actor_id", "actor_repr", "=action", "=ip", "target_repr", "=request_id"]
    readonly_fields = [f.name for f in Event._meta.fields]
    list_per_page = PAGE
    show_full_result_count = False
    actions = ["export_csv", "export_jsonl"]
    change_list_template = "audit/admin/change_list.html"

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _rows(self, queryset):
        for event in queryset.order_by("pk").iterator(chunk_size=2000):
            yield chain.as_dict(event)

    @admin.action(description=_("Export selected as CSV"))
    def export_csv(self, request, queryset):
        class Echo:
            def write(self, value):
                return value

        columns = ["id", "occurred_at", "action", "outcome", "actor_id", "actor", "target_type",
                   "target_id", "target", "ip", "user_agent", "request_id", "session_ref", "data"]
        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(columns)
            for row in self._rows(queryset):
                row["data"] = json.dumps(row["data"], sort_keys=True, ensure_ascii=True)
                # Spreadsheet formula injection: a leading =,+,-,@ is quoted away.
                yield writer.writerow([_cell(row[c]) for c in columns])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response

    @admin.action(description=_("Export selected as JSON Lines"))
    def export_jsonl(self, request, queryset):
        lines = (json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n"
                 for row in self._rows(queryset))
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="audit-events.jsonl"'
        return response


def _cell(value):
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ["seq", "hash", "created_at", "signature"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
