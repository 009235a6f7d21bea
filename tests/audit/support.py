"""Helpers of the audit tests: writing events, tampering the way an intruder would, reading
the outcome of ``audit_verify``."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import chain
from audit.models import Event


def write(n: int, *, seal: bool = True, **fields) -> list[Event]:
    events = [chain.record(action=fields.get("action", "test.event"),
                           actor_repr=fields.get("actor_repr", f"actor {i}"),
                           data={"i": i}) for i in range(n)]
    if seal:
        chain.seal_all()
    return events


def raw(sql: str, params=()) -> None:
    """Run SQL the way someone with database access would, past the suite.

    On PostgreSQL the append-only trigger refuses UPDATE and DELETE, so this does what an
    intruder with the table owner's rights does first: turn triggers off for the
    transaction (``session_replication_role = replica``). Tests of the trigger itself use
    plain SQL.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def command_fails(*args) -> str:
    """Run ``audit_verify``; it must fail. Returns its error message."""
    with pytest.raises(CommandError) as caught:
        call_command("audit_verify", *args)
    return str(caught.value)


def assert_fails_at(event_id: int | None, *, problem: str = "", exported=None) -> None:
    """Verification fails, names ``event_id`` first, and the command fails saying so."""
    report = chain.verify(exported=exported)
    assert not report.ok, "tampering went unnoticed"
    assert report.first_bad == event_id, report.problems
    if problem:
        assert any(problem in p for p in report.problems), report.problems
    if exported is None:
        message = command_fails("--no-seal")
        if event_id is not None:
            assert f"first bad event: {event_id}" in message
        else:
            assert problem in message or "FAILED" in message


def data(event: Event) -> dict:
    return json.loads(event.data)


def all_text(event: Event) -> str:
    """Every stored column of an event, as one string to search."""
    return "\x00".join(str(getattr(event, f.attname)) for f in Event._meta.concrete_fields)


class _FormFields(HTMLParser):
    """The fields of one form of a page, as a browser would submit them unchanged."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or not attrs.get("name") and tag != "option":
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            default = "on" if kind in ("checkbox", "radio") else ""  # as browsers send them
            self.fields.append((attrs["name"], attrs.get("value", default)))
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields.append((self._select, attrs.get("value", "")))
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields.append((attrs["name"], ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, text):
        if self._textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + text)


def form_data(html: str, form_id: str) -> dict[str, list[str]]:
    parser = _FormFields(form_id)
    parser.feed(html)
    assert parser.fields, f"no form {form_id!r} on the page"
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data
