"""The audit trail in the admin: read-only for everyone, superusers included.

The list pages by key (``?before=<id>``) instead of by offset and never counts the table,
so ten million events list as fast as a thousand. The filtered selection (filters and
search as shown) exports as CSV or JSON Lines; so do the rows ticked for an action. The
list, an event's page and the CSV name accounts as staff must read them: a look-alike
address marked (``as_staff_read``). The events store the address as it is: they are
evidence, and the marking is only how staff are shown it.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from audit import chain, recorder
from audit.models import Checkpoint, Event
from audit.paging import keyset
from authsuite.admin_input import ReadOnlyAdminMixin, SafeInputMixin
from authsuite.admin_lists import WholeTermSearchMixin
from authsuite.spelling import address_column, staff_spelling
from authsuite.views import method_not_allowed

PAGE = 100
CSV_COLUMNS = ["id", "occurred_at", "action", "outcome", "actor_id", "actor", "target_type",
               "target_id", "target", "ip", "user_agent", "request_id", "session_ref", "data"]


class KeysetChangeList(ChangeList):
    """Pages with ``?before=<id>``; no COUNT, no OFFSET."""

    def get_filters_params(self, params=None):
        params = super().get_filters_params(params)
        params.pop("before", None)
        return params

    def get_results(self, request):
        queryset = self.queryset
        before = keyset(request.GET.get("before"))
        if before is not None:
            queryset = queryset.filter(pk__lt=before)
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
        self.export_query = self.get_query_string(remove=["before"])


def _instant(value: str, *, end: bool):
    """``2026-01-31`` (the whole day) or an ISO date-time; None when it is neither."""
    try:
        moment = parse_datetime(value) if "T" in value or " " in value else None
        day = None if moment is not None else parse_date(value)
        if moment is None:
            if day is None:
                return None
            moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        if not settings.USE_TZ:
            # Stored naive, in TIME_ZONE: compared so (an aware value fails on SQLite).
            if timezone.is_aware(moment):
                moment = timezone.make_naive(moment, timezone.get_default_timezone())
            return moment
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.get_current_timezone())
        # The database compares in UTC: an instant that has no UTC date (the day after
        # 9999-12-31, 0001-01-01 east of UTC) would fail there as a server error.
        moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day or time ("2026-13-45"), or out of range
        return None
    return moment


class DateRangeFilter(admin.ListFilter):
    """Quick periods (``period=1|7|30`` days) or a range (``since=``, ``until=``; a date
    alone covers that whole day)."""

    title = _("date")
    template = "audit/admin/date_range_filter.html"
    PERIODS = (("1", _("Last 24 hours")), ("7", _("Last 7 days")), ("30", _("Last 30 days")))
    NAMES = ("period", "since", "until")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name in self.NAMES:
            if name in params:
                value = params.pop(name)
                value = value[-1] if isinstance(value, list) else value
                if value:
                    self.values[name] = value
        self.used_parameters = dict(self.values)
        self.hidden = [(k, v) for k, v in request.GET.items()
                       if k not in (*self.NAMES, "before", "p", "e")]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self):
        return list(self.NAMES)

    def queryset(self, request, queryset):
        period = self.values.get("period")
        if period is not None:
            if period not in {p for p, _label in self.PERIODS}:
                raise IncorrectLookupParameters(f"unknown period {period!r}")
            queryset = queryset.filter(
                occurred_at__gte=timezone.now() - timedelta(days=int(period)))
        for name, lookup in (("since", "occurred_at__gte"), ("until", "occurred_at__lt")):
            if name in self.values:
                moment = _instant(self.values[name], end=name == "until")
                if moment is None:
                    raise IncorrectLookupParameters(f"{name} is not a date")
                queryset = queryset.filter(**{lookup: moment})
        return queryset

    def choices(self, changelist):
        yield {"selected": not self.values, "display": _("Any date"),
               "query_string": changelist.get_query_string(remove=[*self.NAMES, "before"])}
        for value, label in self.PERIODS:
            yield {"selected": self.values.get("period") == value, "display": label,
                   "query_string": changelist.get_query_string(
                       {"period": value}, remove=["since", "until", "before"])}


class ActionFilter(admin.SimpleListFilter):
    """Actions known from the declarations: no DISTINCT scan over a huge table."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        from audit.alerts.sending import SENT_ACTION
        from audit.registry import declarations

        known = {d.action for d in declarations() if d.connected} | {
            SENT_ACTION, chain.RETENTION_ACTION, "auth.login.failed", "auth.login.succeeded",
            "auth.logout",
        }
        return [(a, a) for a in sorted(known)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ActorFilter(admin.SimpleListFilter):
    """``actor=<user id>`` (the actor column links here), or nobody signed in."""

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


def names_account(target_type: str) -> bool:
    """Whether an event's target of ``target_type`` is an account: ``user`` (what a flow did
    to it) or the user model's label (``accounts.user``: a change staff made in the admin)."""
    return target_type in ("user", get_user_model()._meta.label_lower)


def shown_target(target_type: str, target: str) -> str:
    """An event's target as staff must read it: an account's address marked when it is a
    look-alike; another target (a role, a client) as it is."""
    return staff_spelling(target) if names_account(target_type) else target


@admin.display(description=Event._meta.get_field("target_repr").verbose_name,
               ordering="target_repr")
def target_repr(event):
    return shown_target(event.target_type, event.target_repr)


#: The actor and the target as staff must read them, in the list and on an event's page.
_SHOWN = {"actor_repr": address_column(Event, "actor_repr"), "target_repr": target_repr}


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, SafeInputMixin, WholeTermSearchMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "action", "outcome", _SHOWN["actor_repr"],
                    _SHOWN["target_repr"], "ip"]
    list_filter = ["outcome", DateRangeFilter, ActorFilter, ActionFilter]
    # Whole terms, each on an index (``search_filter``).
    search_fields = ["actor_id__exact", "actor_repr__exact", "action__exact", "ip__exact",
                     "request_id__exact", "target_id__exact"]
    fields = readonly_fields = [_SHOWN.get(f.name, f.name) for f in Event._meta.fields]
    list_per_page = PAGE
    show_full_result_count = False
    actions = ["export_csv", "export_jsonl"]
    change_list_template = "audit/admin/change_list.html"

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList

    def search_filter(self, term: str) -> Q:
        """Events whose actor (an account's id or address), action, IP or request id is the
        term, whole, or done to the account of that id. Each is an index lookup: the list
        reads the trail newest first, and a term no index finds (a part of an address)
        would walk millions of events to fill one page."""
        return (Q(actor_id=term) | Q(actor_repr__in={term, term.lower()}) | Q(action=term)
                | Q(ip=term) | Q(request_id=term) | Q(target_type="user", target_id=term))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [
            path("export/<str:fmt>/", self.admin_site.admin_view(self.export_view), name=name),
            *super().get_urls(),
        ]

    def export_view(self, request, fmt: str):
        """The selection as listed (filters and search, every page) as a download."""
        if request.method not in ("GET", "HEAD"):
            # Django's admin views answer any method as a GET: a PUT, DELETE or TRACE here
            # took (and recorded) a copy of the trail.
            return method_not_allowed(request, ["GET", "HEAD"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in EXPORT_FORMATS:
            raise Http404
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # As the list itself answers filters it cannot apply.
            changelist_url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name)
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        if request.method == "HEAD":
            # The GET's headers, without a copy of the trail: nothing is read or recorded.
            return _export_response(HttpResponse(), fmt)
        queryset = changelist.get_queryset(request)
        return self.export_csv(request, queryset) if fmt == "csv" else self.export_jsonl(
            request, queryset)

    def _rows(self, queryset):
        for event in queryset.order_by("pk").iterator(chunk_size=2000):
            yield chain.as_dict(event)

    @staticmethod
    def _record_export(request, fmt: str) -> None:
        """An export of the trail is on the trail (``audit.trail.exported``): who took a
        copy of it (the addresses, IPs and devices it holds), when, in which format, and of
        what: the list's filters and search as the export's query string, or the rows
        ticked for the action (or, with "select all", every row the filters match). The
        event is written before the rows are read, so an export of everything holds it."""
        data = {"format": fmt, "filters": request.GET.urlencode()[:500]}
        if request.method == "POST":  # the action, on ticked rows
            data["selected"] = ("all" if request.POST.get("select_across") == "1"
                                else len(request.POST.getlist(ACTION_CHECKBOX_NAME)))
        recorder.write(action=EXPORTED_ACTION, request=request, data=data)

    @admin.action(description=_("Export selected as CSV"))
    def export_csv(self, request, queryset):
        self._record_export(request, "csv")

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(CSV_COLUMNS)
            for row in self._rows(queryset):
                row["data"] = json.dumps(row["data"], sort_keys=True, ensure_ascii=True)
                row = as_staff_read(row)
                yield writer.writerow([csv_cell(row[c]) for c in CSV_COLUMNS])

        return _export_response(StreamingHttpResponse(lines()), "csv")

    @admin.action(description=_("Export selected as JSON Lines"))
    def export_jsonl(self, request, queryset):
        self._record_export(request, "jsonl")
        lines = (json.dumps(row, sort_keys=True, ensure_ascii=True) + "\n"
                 for row in self._rows(queryset))
        return _export_response(StreamingHttpResponse(lines), "jsonl")


EXPORTED_ACTION = "audit.trail.exported"
#: By format: the export's content type and file name.
EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "audit-events.csv"),
    "jsonl": ("application/x-ndjson", "audit-events.jsonl"),
}


def _export_response(response, fmt: str):
    content_type, filename = EXPORT_FORMATS[fmt]
    response["Content-Type"] = content_type
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def as_staff_read(row: dict) -> dict:
    """An exported event with the addresses it names as staff must read them
    (``authsuite.spelling.staff_spelling``): a look-alike (``ann@exаmple.com``, its ``а``
    Cyrillic) marked, not passing for the address it imitates in a spreadsheet. The actor
    is an account (its address, or a username), and so is a target of type ``user`` or of
    the user model (``names_account``); other targets (a role, a client) are left as they
    are. The JSON Lines export needs none of this: it spells every letter outside ASCII as
    ``\\uXXXX``."""
    return {**row, "actor": staff_spelling(row["actor"]),
            "target": shown_target(row["target_type"], row["target"])}


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: a leading ``= + - @`` (or tab, CR) would start a
    formula, so it is quoted away (OWASP's advice for CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdminMixin, SafeInputMixin, admin.ModelAdmin):
    list_display = ["seq", "hash", "created_at", "signature"]
    readonly_fields = list_display
