"""The audit trail in the admin: read-only for everyone, filters, search, detail, exports,
keyset paging with a query count that does not grow with the table."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import chain
from audit.models import Checkpoint, Event
from authsuite.text import BIDI_CONTROLS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/audit/event/"


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def trail(staff):
    """A small, varied trail (the staff sign-in of the fixture is in it too)."""
    ann = UserFactory(email="ann@example.com")
    rows = [
        chain.record(action="accounts.login.succeeded", actor_id=str(ann.pk),
                     actor_repr=ann.email, ip="198.51.100.1", user_agent="Firefox"),
        chain.record(action="accounts.login.failed", outcome="failure", actor_id=str(ann.pk),
                     actor_repr=ann.email, ip="203.0.113.7", data={"reason": "credentials"}),
        chain.record(action="authsuite.rate_limited", outcome="denied", ip="203.0.113.7"),
        chain.record(action="accounts.password.changed", actor_id=str(ann.pk),
                     actor_repr=ann.email, ip="198.51.100.1"),
    ]
    return ann, rows


def ids(response) -> list[int]:
    return [e.pk for e in response.context["cl"].result_list]


def test_nobody_may_add_change_or_delete_not_even_a_superuser(admin_client, staff, trail):
    assert staff.is_superuser
    event = trail[1][0]
    kept = Event.objects.exclude(action="authsuite.permission_denied")
    count = kept.count()
    assert admin_client.get(f"{LIST}add/").status_code == 403
    assert admin_client.post(f"{LIST}add/", {"action": "x"}).status_code == 403
    detail = admin_client.get(f"{LIST}{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert admin_client.post(f"{LIST}{event.pk}/change/",
                             {"actor_repr": "mallory"}).status_code == 403
    assert admin_client.get(f"{LIST}{event.pk}/delete/").status_code == 403
    assert admin_client.post(f"{LIST}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [event.pk],
                                    "post": "yes"}).status_code == 403
    assert kept.count() == count
    assert Event.objects.get(pk=event.pk).actor_repr == "ann@example.com"
    # Each refusal is itself on the record.
    assert Event.objects.filter(action="authsuite.permission_denied").count() == 6
    page = admin_client.get(LIST)
    assert b'value="delete_selected"' not in page.content
    assert b'value="export_csv"' in page.content


def test_checkpoints_are_read_only_too(admin_client, trail):
    point = chain.checkpoint()
    base = "/admin/audit/checkpoint/"
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{point.pk}/change/", {"hash": "0" * 64}).status_code == 403
    assert admin_client.post(f"{base}{point.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Checkpoint.objects.get().hash == point.hash
    assert admin_client.get(base).status_code == 200


def test_staff_without_the_view_permission_see_nothing(client, trail):
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}export/csv/").status_code == 403
    assert client.get(f"{LIST}{trail[1][0].pk}/change/").status_code == 403


def test_the_detail_page_shows_the_whole_event(admin_client, trail):
    event = trail[1][1]
    page = admin_client.get(f"{LIST}{event.pk}/change/").content.decode()
    for text in ("accounts.login.failed", "failure", "ann@example.com", "203.0.113.7",
                 "credentials", event.mac):
        assert text in page


@pytest.mark.parametrize("query, expected", [
    ("outcome=failure", ["accounts.login.failed"]),
    ("outcome=denied", ["authsuite.rate_limited"]),
    ("action=accounts.password.changed", ["accounts.password.changed"]),
    ("q=203.0.113.7", ["authsuite.rate_limited", "accounts.login.failed"]),
    ("q=ann%40example.com", ["accounts.password.changed", "accounts.login.failed",
                             "accounts.login.succeeded"]),
    ("q=ANN%40EXAMPLE.COM", ["accounts.password.changed", "accounts.login.failed",
                             "accounts.login.succeeded"]),
    ("q=ann%40example", []),  # whole terms only: a part of an address reads every event
    ("actor=_system&outcome=denied", ["authsuite.rate_limited"]),
])
def test_filters_and_search(admin_client, trail, query, expected):
    response = admin_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert [e.action for e in response.context["cl"].result_list] == expected


def test_filter_by_actor(admin_client, trail):
    ann = trail[0]
    response = admin_client.get(f"{LIST}?actor={ann.pk}")
    own = [e for e in trail[1] if e.actor_id == str(ann.pk)]
    assert len(own) == 3
    assert ids(response) == [e.pk for e in reversed(own)]


def test_filter_by_date(admin_client, trail, time_machine):
    now = timezone.now()
    time_machine.move_to(now - timedelta(days=10), tick=False)
    old = chain.record(action="test.old")
    time_machine.move_to(now, tick=False)
    assert old.pk not in ids(admin_client.get(f"{LIST}?period=7"))
    assert old.pk in ids(admin_client.get(f"{LIST}?period=30"))
    day = (now - timedelta(days=10)).date().isoformat()
    assert ids(admin_client.get(f"{LIST}?since={day}&until={day}")) == [old.pk]
    after = (now - timedelta(days=9)).date().isoformat()
    assert old.pk not in ids(admin_client.get(f"{LIST}?since={after}"))
    assert ids(admin_client.get(f"{LIST}?until={day}")) == [old.pk]
    page = admin_client.get(f"{LIST}?since={day}").content.decode()
    assert 'name="since"' in page and f'value="{day}"' in page


@pytest.mark.parametrize("query", ["since=yesterday", "until=2026-13-45", "period=9"])
def test_a_bad_date_is_refused_not_ignored(admin_client, trail, query):
    response = admin_client.get(f"{LIST}?{query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_keyset_paging_walks_the_whole_trail_once(admin_client):
    for i in range(230):
        chain.record(action="test.event", data={"i": i})
    every = list(Event.objects.order_by("-pk").values_list("pk", flat=True))
    seen, query = [], ""
    for _ in range(5):
        response = admin_client.get(f"{LIST}{query}")
        page = ids(response)
        seen += page
        following = response.context["cl"].next_before
        if following is None:
            break
        assert f"before={following}".encode() in response.content
        query = f"?before={following}"
    assert seen == every
    assert [len(p) for p in (every[:100], every[100:200], every[200:])] == [100, 100, len(
        every) - 200]


@pytest.mark.parametrize("before", ["²", "9" * 30, "-1", "abc", "1e5", ""])
def test_odd_keys_show_the_first_page(admin_client, trail, before):
    response = admin_client.get(LIST, {"before": before})
    assert response.status_code == 200
    assert ids(response)[0] == Event.objects.order_by("-pk").first().pk


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    events = [q["sql"] for q in captured if "audit_event" in q["sql"]]
    assert events, "the list did not read the events"
    assert not any("COUNT(" in sql.upper() or "OFFSET" in sql.upper() for sql in events)
    return len(captured)


@pytest.mark.parametrize("url", [LIST, f"{LIST}?outcome=success&q=test.event",
                                 f"{LIST}?before=10000&period=30"])
def test_the_list_costs_the_same_for_10_or_300_events(admin_client, url,
                                                      django_assert_num_queries):
    for i in range(10):
        chain.record(action="test.event", data={"i": i})
    admin_client.get(url)  # the session's first request records it; not part of the list
    small = _queries(admin_client, url)
    assert small <= 8
    for i in range(290):
        chain.record(action="test.event", data={"i": i})
    with django_assert_num_queries(small):
        assert admin_client.get(url).status_code == 200


def _csv(response) -> tuple[str, list[dict]]:
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return text, list(csv.DictReader(io.StringIO(text)))


def test_csv_export_of_the_filtered_list(admin_client, trail):
    text, rows = _csv(admin_client.get(f"{LIST}export/csv/?outcome=failure"))
    assert [r["action"] for r in rows] == ["accounts.login.failed"]
    assert json.loads(rows[0]["data"]) == {"reason": "credentials"}
    assert rows[0]["actor"] == "ann@example.com"
    # A "next page" key does not narrow an export: it is the whole selection.
    _, everything = _csv(admin_client.get(f"{LIST}export/csv/?before={trail[1][2].pk}"))
    assert len(everything) == Event.objects.count()


def test_the_list_links_to_exports_of_what_it_shows(admin_client, trail):
    page = admin_client.get(f"{LIST}?outcome=failure&before=99999").content.decode()
    assert f"{LIST}export/csv/?outcome=failure" in page
    assert f"{LIST}export/jsonl/?outcome=failure" in page
    assert "export/csv/?outcome=failure&amp;before" not in page


def test_csv_cells_cannot_start_a_formula(admin_client):
    for value in ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)"):
        chain.record(action="test.formula", actor_repr=value, user_agent=value, target_repr=value)
    _, rows = _csv(admin_client.get(f"{LIST}export/csv/?action=test.formula"))
    assert len(rows) == 4
    for row in rows:
        for column in ("actor", "user_agent", "target"):
            assert row[column].startswith("'"), row[column]
            assert row[column][1] in "=+-@"


def test_exports_cannot_be_given_extra_lines(admin_client):
    forged = "Firefox\r\n2099-01-01,accounts.login.succeeded,success\u2028\x85\x0bnext"
    for _ in range(3):
        chain.record(action="test.lines", actor_repr=forged, user_agent=forged,
                     data={"note": forged})
    text, rows = _csv(admin_client.get(f"{LIST}export/csv/?action=test.lines"))
    assert len(text.splitlines()) == 1 + 3
    assert len(rows) == 3
    lines = b"".join(admin_client.get(
        f"{LIST}export/jsonl/?action=test.lines").streaming_content).decode()
    assert len(lines.splitlines()) == 3
    for line in lines.splitlines():
        row = json.loads(line)
        assert row["action"] == "test.lines"
        assert "\n" not in row["actor"] and "\u2028" not in row["actor"]


def test_bidi_controls_reorder_no_line_of_the_list_or_the_exports(admin_client):
    reordered = "invoice\u202efdp.exe \u2066x\u2069 \u200f\u200e\u061c"
    chain.record(action="test.bidi", actor_repr=reordered, target_repr=reordered,
                 user_agent=reordered, data={"note": reordered})
    page = admin_client.get(f"{LIST}?action=test.bidi").content.decode()
    text, rows = _csv(admin_client.get(f"{LIST}export/csv/?action=test.bidi"))
    lines = b"".join(admin_client.get(
        f"{LIST}export/jsonl/?action=test.bidi").streaming_content).decode()
    for shown in (page, text, lines):
        assert not BIDI_CONTROLS & set(shown)
    assert "invoice\\u202efdp.exe" in page
    assert rows[0]["target"] == rows[0]["actor"] == rows[0]["user_agent"] == (
        "invoice\\u202efdp.exe \\u2066x\\u2069 \\u200f\\u200e\\u061c")


def test_jsonl_export_of_the_filtered_list(admin_client, trail):
    response = admin_client.get(f"{LIST}export/jsonl/?q=203.0.113.7")
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [r["action"] for r in rows] == ["accounts.login.failed", "authsuite.rate_limited"]
    assert set(rows[0]) >= {"id", "occurred_at", "action", "outcome", "actor_id", "actor", "ip",
                            "user_agent", "request_id", "session_ref", "data", "target"}


def test_an_unknown_export_format_is_not_found(admin_client):
    assert admin_client.get(f"{LIST}export/xml/").status_code == 404


def test_export_actions_on_ticked_rows(admin_client, trail):
    chosen = [trail[1][0].pk, trail[1][3].pk]
    response = admin_client.post(LIST, {"action": "export_csv", "_selected_action": chosen,
                                        "index": "0"})
    _, rows = _csv(response)
    assert sorted(int(r["id"]) for r in rows) == sorted(chosen)
    response = admin_client.post(LIST, {"action": "export_jsonl", "_selected_action": chosen,
                                        "index": "0"})
    lines = b"".join(response.streaming_content).splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(chosen)


def _exports() -> list[dict]:
    from tests.audit.support import data

    return [{"actor": e.actor_id, **data(e)}
            for e in Event.objects.filter(action="audit.trail.exported").order_by("pk")]


def test_each_export_of_the_trail_is_on_the_trail(admin_client, staff, trail):
    # A copy of the trail holds every address, IP and device it names: who took one, when
    # and of what is itself recorded, by either way of exporting.
    _csv(admin_client.get(f"{LIST}export/csv/?outcome=failure&q=ann"))
    b"".join(admin_client.get(f"{LIST}export/jsonl/").streaming_content)
    chosen = [trail[1][0].pk, trail[1][3].pk]
    _csv(admin_client.post(LIST, {"action": "export_csv", "_selected_action": chosen,
                                  "index": "0"}))
    _csv(admin_client.post(f"{LIST}?outcome=failure", {
        "action": "export_csv", "_selected_action": chosen, "select_across": "1",
        "index": "0"}))

    me = str(staff.pk)
    assert _exports() == [
        {"actor": me, "format": "csv", "filters": "outcome=failure&q=ann"},
        {"actor": me, "format": "jsonl", "filters": ""},
        {"actor": me, "format": "csv", "filters": "", "selected": 2},
        {"actor": me, "format": "csv", "filters": "outcome=failure", "selected": "all"},
    ]


def test_an_export_of_everything_holds_its_own_event(admin_client):
    lines = b"".join(admin_client.get(f"{LIST}export/jsonl/").streaming_content).splitlines()
    assert json.loads(lines[-1])["action"] == "audit.trail.exported"


def test_an_export_refused_or_not_made_is_not_recorded_as_one(admin_client, client):
    viewer = UserFactory(is_staff=True)
    client.force_login(viewer)
    assert client.get(f"{LIST}export/csv/").status_code == 403
    assert admin_client.get(f"{LIST}export/xml/").status_code == 404
    assert admin_client.get(f"{LIST}export/csv/?occurred_at__gte=yesterday").status_code == 302
    assert not Event.objects.filter(action="audit.trail.exported").exists()


@pytest.mark.parametrize("fmt, content_type", [("csv", "text/csv; charset=utf-8"),
                                               ("jsonl", "application/x-ndjson")])
def test_a_head_of_an_export_takes_no_copy(admin_client, trail, fmt, content_type):
    """The GET's headers, and nothing read or recorded: a HEAD was an export on the trail."""
    response = admin_client.head(f"{LIST}export/{fmt}/?outcome=failure")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="audit-events.{fmt}"'
    assert "no-store" in response["Cache-Control"]
    assert response.content == b""
    assert not Event.objects.filter(action="audit.trail.exported").exists()


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "PROPFIND"])
def test_an_export_by_another_method_is_refused_and_not_recorded(admin_client, trail, method):
    """Django's admin views answer any method as a GET: a TRACE here took, and recorded, a
    copy of the trail."""
    response = admin_client.generic(method, f"{LIST}export/csv/")
    assert response.status_code == 405
    assert response["Allow"] in ("GET, HEAD", "GET, HEAD, POST")
    assert b"<h1>Method not allowed</h1>" in response.content
    assert not Event.objects.filter(action="audit.trail.exported").exists()


@pytest.mark.urls("tests.audit.urls_django_admin")
@pytest.mark.parametrize("method", ["PUT", "TRACE", "OPTIONS"])
def test_the_export_refuses_another_method_on_djangos_own_site_too(admin_client, trail, method):
    response = admin_client.generic(method, "/django-admin/audit/event/export/csv/")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert not Event.objects.filter(action="audit.trail.exported").exists()
    assert admin_client.get("/django-admin/audit/event/export/csv/").status_code == 200
