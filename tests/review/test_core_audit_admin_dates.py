"""Dates at the edge of the calendar in the audit list's filters are refused, not a 500."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", [
    "until=9999-12-31",  # the day after is past the last date there is
    "since=9999-12-31T23:59:59-23:00",  # in UTC, past the last date there is
    "since=0001-01-01T00:00:00%2B05:00",  # in UTC, before the first one
])
def test_a_date_out_of_range_is_refused_like_a_bad_date(staff, query):
    client = Client(raise_request_exception=False)
    client.force_login(staff)
    response = client.get(f"/admin/audit/event/?{query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
