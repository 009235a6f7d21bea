"""``authsuite.db.update``: compiled UPDATE statements, values prepared as the ORM prepares
them, built once per shape, no model signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.models.signals import post_save, pre_save

from accounts.models import UserSession
from authsuite import db

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def rows(user):
    """Three sessions of ``user``, last seen one, two and three hours after START."""
    return [UserSession.objects.create(user=user, key_digest=str(i) * 64,
                                       last_seen_at=START + timedelta(hours=i))
            for i in (1, 2, 3)]


@pytest.fixture
def sql_cache(monkeypatch):
    cache: dict = {}
    monkeypatch.setattr(db, "_SQL", cache)
    return cache


def update(**kwargs) -> int:
    return db.update(UserSession, using="default", **kwargs)


def reasons() -> dict[int, str]:
    return dict(UserSession.objects.values_list("pk", "end_reason"))


def raw(column: str, pk: int):
    """The value as stored in the database, before the field converts it back."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn(column)} FROM {qn(UserSession._meta.db_table)} "  # noqa: S608
                       f"WHERE {qn('id')} = %s", [pk])
        return cursor.fetchone()[0]


def test_updates_the_matching_rows_and_returns_their_count(rows):
    first, second, third = rows
    assert update(where={"key_digest": second.key_digest}, values={"end_reason": "logout"}) == 1
    assert reasons() == {first.pk: "", second.pk: "logout", third.pk: ""}
    assert update(where={"key_digest": "nobody"}, values={"end_reason": "x"}) == 0
    assert update(where={"user": first.user_id}, values={"device": "Firefox"}) == 3
    assert set(UserSession.objects.values_list("device", flat=True)) == {"Firefox"}


def test_less_than(rows):
    first, second, third = rows
    count = update(where={"user": first.user_id, "last_seen_at__lt": second.last_seen_at},
                   values={"end_reason": "idle_timeout"})
    assert count == 1
    assert reasons() == {first.pk: "idle_timeout", second.pk: "", third.pk: ""}
    assert update(where={"last_seen_at__lt": START + timedelta(hours=10)},
                  values={"end_reason": "all"}) == 3


def test_pk(rows):
    first, second, _third = rows
    assert update(where={"pk": second.pk}, values={"end_reason": "by pk"}) == 1
    assert update(where={"pk__lt": second.pk}, values={"device": "older"}) == 1
    assert UserSession.objects.get(pk=second.pk).end_reason == "by pk"
    assert UserSession.objects.get(pk=first.pk).device == "older"


@pytest.mark.parametrize("when", [START, START.astimezone(timezone(timedelta(hours=-5)))],
                         ids=["utc", "utc-5"])
def test_datetimes_and_none_are_stored_as_the_orm_stores_them(rows, when):
    ours, orms, _third = rows
    UserSession.objects.filter(pk=orms.pk).update(ended_at=when, last_seen_at=when)

    update(where={"pk": ours.pk}, values={"ended_at": when, "last_seen_at": when})

    ours.refresh_from_db()
    assert ours.ended_at == when and ours.ended_at.tzinfo is not None
    for column in ("ended_at", "last_seen_at"):
        assert raw(column, ours.pk) == raw(column, orms.pk)
    # Comparisons in SQL see the value as the ORM wrote it.
    assert UserSession.objects.filter(ended_at=when).count() == 2
    assert UserSession.objects.filter(ended_at__lt=when + timedelta(microseconds=1)).count() == 2

    update(where={"pk": ours.pk}, values={"ended_at": None})

    ours.refresh_from_db()
    assert ours.ended_at is None
    assert raw("ended_at", ours.pk) is None


def test_the_sql_is_built_once_per_shape(rows, sql_cache):
    first, second, _third = rows
    update(where={"pk": first.pk}, values={"end_reason": "a"})
    assert len(sql_cache) == 1
    (sql,) = sql_cache.values()
    assert sql.startswith(f"UPDATE {connection.ops.quote_name(UserSession._meta.db_table)} SET")

    update(where={"pk": second.pk}, values={"end_reason": "b"})
    assert list(sql_cache.values()) == [sql]
    assert reasons()[second.pk] == "b"

    update(where={"pk": first.pk}, values={"end_reason": "c", "device": "d"})
    update(where={"pk__lt": first.pk}, values={"end_reason": "c"})
    assert len(sql_cache) == 3


def test_sends_no_model_signals(rows):
    first, *_ = rows
    sent = []

    def receiver(sender, **kwargs):
        sent.append(sender)

    pre_save.connect(receiver, sender=UserSession, weak=False)
    post_save.connect(receiver, sender=UserSession, weak=False)
    try:
        assert update(where={"pk": first.pk}, values={"end_reason": "quiet"}) == 1
        assert sent == []
        first.save()  # the receivers do hear the ORM's save
        assert sent == [UserSession, UserSession]
    finally:
        pre_save.disconnect(receiver, sender=UserSession)
        post_save.disconnect(receiver, sender=UserSession)
