"""Admin lists of large tables: not counted on every page, searched on indexes.

Django's admin paginator runs ``SELECT COUNT(*)`` over the list's rows (filtered or not) on
each page it shows: on PostgreSQL that reads every matching row, a whole table of
hundreds of thousands of accounts or millions of messages for the unfiltered list, and it
does it again for each page. :class:`EstimatedCountPaginator` asks the planner instead
(``EXPLAIN``, which reads no rows) and counts exactly only when the planner expects fewer
than ``exact_below`` rows: a large list's count, and so its number of pages, is then an
estimate from the table's statistics, and a small one is exact. Other databases count as
Django does.

Django's search looks for the term inside each field (``icontains``: ``UPPER(col) LIKE
'%term%'``), which no index serves: every search reads the whole table, and a list read in
its own order (newest first) walks the whole of it looking for the page's rows.
:class:`WholeTermSearchMixin` takes the search box's text as one whole term, found by the
admin's ``search_filter`` with lookups each served by an index.
"""

from __future__ import annotations

import json

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils.functional import cached_property


def planned_rows(queryset: QuerySet) -> int | None:
    """How many rows PostgreSQL's planner expects ``queryset`` to return, or None on
    another database (or for a query that can match nothing)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing: counted as Django does
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Exact counts for small lists, the planner's estimate for large ones (PostgreSQL)."""

    #: Below this many rows expected, the list is counted exactly.
    exact_below = 10_000

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            estimate = planned_rows(self.object_list)
            if estimate is not None and estimate >= self.exact_below:
                return estimate
        return super().count


class EstimatedCountMixin:
    """A ``ModelAdmin`` whose list neither counts a large table exactly on each page nor
    counts it a second time for "N total" (``show_full_result_count``)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


class WholeTermSearchMixin:
    """``get_search_results`` by ``search_filter(term)``, the whole term stripped: each
    account or row once (no DISTINCT). Put it after ``SafeInputMixin``, which refuses a
    term too long first."""

    def search_filter(self, term: str) -> Q:
        raise NotImplementedError

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_filter(term)), False
