"""``authsuite.db``: compiled UPDATE, INSERT and SELECT statements, values prepared and
read back as the ORM prepares and reads them, built once per shape, no model signals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_init, post_save, pre_init, pre_save

from accounts.models import LoginThrottle, UserSession
from audit.models import Event, PendingSeal
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


# ``insert``, ``select`` and ``get``: the rows they write read back through the ORM as given,
# the rows they read are what the ORM reads.

EUROPE = timezone(timedelta(hours=2))


def session_values(user, **overrides) -> dict:
    values = {
        "user_id": user.pk, "key_digest": "d" * 64,
        "created_at": START, "last_seen_at": START.astimezone(EUROPE),
        "ip": "2001:db8::1", "user_agent": "Mözilla/5.0 (日本語; ☃)", "device": "Firefox",
        "remember": True, "ended_at": None, "end_reason": "",
    }
    values.update(overrides)
    return values


def columns(instance) -> dict:
    """Every concrete field's value, by attname (``Model.__eq__`` only compares pks)."""
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_insert_returns_the_pk_and_the_row_reads_back_as_given(user):
    values = session_values(user)
    pk = db.insert(UserSession, using="default", values=values)

    assert isinstance(pk, int)
    row = UserSession.objects.get(pk=pk)
    assert columns(row) == {"id": pk, **values}
    assert row.created_at.tzinfo is not None and row.last_seen_at.tzinfo is not None
    assert row.remember is True and row.ended_at is None

    other = db.insert(UserSession, using="default", values=session_values(
        user, key_digest="e" * 64, remember=False, ip=None, ended_at=START, end_reason="x"))
    assert other != pk
    row = UserSession.objects.get(pk=other)
    assert (row.remember, row.ip, row.ended_at, row.end_reason) == (False, None, START, "x")
    assert UserSession.objects.count() == 2


def test_insert_with_the_keys_in_another_order(user, sql_cache):
    values = session_values(user)
    first = db.insert(UserSession, using="default", values=values)
    second = db.insert(UserSession, using="default", values=dict(reversed(values.items())))

    assert len(sql_cache) == 2  # one statement per column order, each with its own params
    assert columns(UserSession.objects.get(pk=first)) == {"id": first, **values}
    assert columns(UserSession.objects.get(pk=second)) == {"id": second, **values}


def test_insert_with_a_char_primary_key_returns_that_key():
    key = "k" * 32
    returned = db.insert(Session, using="default", values={
        "session_key": key, "session_data": "données ✓", "expire_date": START})

    assert returned == key
    session = Session.objects.get(pk=key)
    assert (session.session_data, session.expire_date) == ("données ✓", START)


def test_insert_with_a_foreign_key_as_primary_key():
    event = db.insert(Event, using="default", values=event_values())
    assert db.insert(PendingSeal, using="default", values={"event_id": event}) == event
    assert list(PendingSeal.objects.values_list("event_id", flat=True)) == [event]


# PostgreSQL always has RETURNING, and its backend has no last_insert_id to fall back on:
# there, only a given key can be returned without RETURNING.
WITHOUT_RETURNING = ["char-pk"] + (
    ["auto-pk"] if "sqlite" in settings.DATABASES["default"]["ENGINE"] else [])


@pytest.mark.parametrize("case", WITHOUT_RETURNING)
def test_insert_without_returning_clause(user, monkeypatch, sql_cache, case):
    """Backends that cannot return columns from an INSERT: the pk given, or the last one."""
    given_key = case == "char-pk"
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    if given_key:
        model, values = Session, {"session_key": "n" * 32, "session_data": "",
                                  "expire_date": START}
        expected = "n" * 32
    else:
        model, values = UserSession, session_values(user)
        expected = None

    pk = db.insert(model, using="default", values=values)

    (sql,) = sql_cache.values()
    assert "RETURNING" not in sql.upper()
    assert pk == (expected or UserSession.objects.get().pk)
    assert model.objects.filter(pk=pk).exists()


def test_insert_of_a_duplicate_key_raises_integrity_error(user):
    values = {"session_key": "d" * 32, "session_data": "", "expire_date": START}
    db.insert(Session, using="default", values=values)
    with pytest.raises(IntegrityError), transaction.atomic():
        db.insert(Session, using="default", values={**values, "session_data": "second"})
    assert Session.objects.get().session_data == ""

    throttle = {"identifier": "a@example.com", "ip": "", "failures": 1, "lockouts": 0,
                "locked_until": None, "last_failure_at": START, "consecutive_failures": 0}
    pk = db.insert(LoginThrottle, using="default", values=throttle)
    with pytest.raises(IntegrityError), transaction.atomic():
        db.insert(LoginThrottle, using="default", values=throttle)  # unique (identifier, ip)
    with pytest.raises(IntegrityError), transaction.atomic():
        db.insert(LoginThrottle, using="default", values={**throttle, "id": pk, "ip": "1.2.3.4"})
    assert list(LoginThrottle.objects.values_list("pk", flat=True)) == [pk]


def test_insert_sends_no_model_signals(user):
    sent = []

    def receiver(sender, **kwargs):
        sent.append(sender)

    signals = (pre_init, post_init, pre_save, post_save)
    for signal in signals:
        signal.connect(receiver, sender=UserSession, weak=False)
    try:
        db.insert(UserSession, using="default", values=session_values(user))
        assert sent == []
        UserSession.objects.create(user=user, key_digest="x")  # the receivers do hear the ORM
        assert sent == [UserSession, UserSession, UserSession, UserSession]
    finally:
        for signal in signals:
            signal.disconnect(receiver, sender=UserSession)


def event_values(**overrides) -> dict:
    values = {"uid": uuid.UUID(int=7), "occurred_at": START, "actor_id": "42",
              "actor_repr": "Zoë 🙂", "action": "login", "outcome": "success",
              "target_type": "user", "target_id": "42", "target_repr": "Zoë 🙂",
              "ip": "10.0.0.1", "user_agent": "Mözilla/5.0", "request_id": "r" * 32,
              "session_ref": "s" * 16, "data": '{"note":"\\u00e9"}', "mac": "m" * 64}
    values.update(overrides)
    return values


def test_insert_and_select_uuids_and_text():
    values = event_values()
    pk = db.insert(Event, using="default", values=values)

    event = Event.objects.get(pk=pk)
    assert {name: getattr(event, name) for name in values} == values
    (row,) = db.select(Event, ["uid", "actor_repr", "data", "occurred_at"], using="default",
                       where={"uid": values["uid"]})
    assert row == (values["uid"], "Zoë 🙂", '{"note":"\\u00e9"}', START)
    assert isinstance(row[0], uuid.UUID)


# select


def select(fields, **kwargs) -> list[tuple]:
    return db.select(UserSession, fields, using="default", **kwargs)


def orm(fields, order_by, **filters) -> list[tuple]:
    return list(UserSession.objects.filter(**filters).order_by(order_by).values_list(*fields))


FIELDS = ["remember", "last_seen_at", "key_digest", "ended_at", "user_id", "id"]


def test_select_returns_tuples_of_python_values_in_field_order(rows):
    first, second, _third = rows
    UserSession.objects.filter(pk=second.pk).update(remember=True, ended_at=START, ip="10.0.0.1")

    result = select(FIELDS, where={"user_id": first.user_id}, order_by="last_seen_at")

    assert result == orm(FIELDS, "last_seen_at", user_id=first.user_id)
    assert [type(row) for row in result] == [tuple] * 3
    assert [row[0] for row in result] == [False, True, False]
    assert all(type(row[0]) is bool for row in result)
    for row, hours in zip(result, (1, 2, 3), strict=True):
        seen = row[1]
        assert isinstance(seen, datetime) and seen.tzinfo is not None  # not a string
        assert seen == START + timedelta(hours=hours)
    assert [row[3] for row in result] == [None, START, None]
    assert isinstance(result[1][3], datetime) and result[1][3].tzinfo is not None
    assert [row[2] for row in result] == [row.key_digest for row in rows]
    assert select(["ip", "device"], where={"pk": second.pk}) == [("10.0.0.1", "")]


def test_select_filters(rows):
    first, second, third = rows
    user_id = first.user_id
    assert select(["id"], where={"key_digest": second.key_digest}) == [(second.pk,)]
    assert select(["id"], where={"last_seen_at__lt": third.last_seen_at}, order_by="id") == [
        (first.pk,), (second.pk,)]
    below_second = {"user_id": user_id, "last_seen_at__lt": second.last_seen_at}
    assert select(["id"], where=below_second) == [(first.pk,)]
    assert select(["id"], where={"last_seen_at__lt": second.last_seen_at,
                                 "user": user_id}) == [(first.pk,)]
    assert select(["id"], where={"pk__lt": second.pk}) == [(first.pk,)]
    assert select(["id"], where={"user_id": user_id + 1000}) == []
    assert select(["id"], where={"key_digest": "nobody", "user_id": user_id}) == []


def test_select_in_lists_of_different_lengths(rows, sql_cache):
    first, second, third = rows
    digests = [second.key_digest, third.key_digest]
    assert select(["id"], where={"key_digest__in": digests}, order_by="id") == [
        (second.pk,), (third.pk,)]
    assert len(sql_cache) == 1
    assert select(["id"], where={"key_digest__in": [first.key_digest]}, order_by="id") == [
        (first.pk,)]
    assert len(sql_cache) == 2
    three = [row.key_digest for row in rows]
    assert select(["id"], where={"key_digest__in": three}, order_by="id") == [
        (row.pk,) for row in rows]
    assert len(sql_cache) == 3
    # A list of a length seen before reuses its statement with the new values.
    assert select(["id"], where={"key_digest__in": [first.key_digest, "nobody"]},
                  order_by="id") == [(first.pk,)]
    assert select(["id"], where={"key_digest__in": ["no", "body"]}, order_by="id") == []
    assert select(["id"], where={"pk__in": [third.pk]}, order_by="id") == [(third.pk,)]
    assert len(sql_cache) == 4
    assert [sql.count("%s") for sql in sql_cache.values()] == [2, 1, 3, 1]


def test_select_order_by_and_limit(rows):
    first, second, third = rows
    where = {"user_id": first.user_id}
    assert select(["id"], where=where, order_by="last_seen_at") == [
        (first.pk,), (second.pk,), (third.pk,)]
    assert select(["id"], where=where, order_by="-last_seen_at") == [
        (third.pk,), (second.pk,), (first.pk,)]
    assert select(["id"], where=where, order_by="-pk") == [(third.pk,), (second.pk,), (first.pk,)]
    assert select(["id"], where=where, order_by="-last_seen_at", limit=2) == [
        (third.pk,), (second.pk,)]
    assert select(["id"], where=where, order_by="last_seen_at", limit=1) == [(first.pk,)]
    assert select(["id"], where=where, order_by="last_seen_at", limit=0) == []
    assert len(select(["id"], where=where, limit=2)) == 2
    assert select(["id"], where={"user_id": -1}, order_by="-id", limit=1) == []


def test_select_throttles_as_the_lockout_reads_them(sql_cache):
    until = START + timedelta(minutes=15)
    LoginThrottle.objects.create(identifier="a@example.com", ip="", failures=3, lockouts=1,
                                 locked_until=until, last_failure_at=START)
    LoginThrottle.objects.create(identifier="a@example.com", ip="10.0.0.1", failures=5,
                                 last_failure_at=START)
    LoginThrottle.objects.create(identifier="b@example.com", ip="", last_failure_at=START)
    fields = ["ip", "locked_until", "lockouts", "last_failure_at"]

    rows = db.select(LoginThrottle, fields, using="default", order_by="ip",
                     where={"identifier": "a@example.com", "ip__in": ["10.0.0.1", ""]})

    assert rows == [("", until, 1, START), ("10.0.0.1", None, 0, START)]
    assert rows == list(LoginThrottle.objects.filter(identifier="a@example.com")
                        .order_by("ip").values_list(*fields))


# get


def get(**kwargs):
    return db.get(UserSession, using="default", **kwargs)


@pytest.mark.parametrize("order_by", ["last_seen_at", "-last_seen_at", "pk", "-id"])
def test_get_returns_the_instance_the_orm_returns(rows, order_by):
    first, second, _third = rows
    UserSession.objects.filter(pk=second.pk).update(
        remember=True, ended_at=START, ip="10.0.0.1", user_agent="Zoë ☃")
    where = {"user_id": first.user_id}

    ours = get(where=where, order_by=order_by)

    theirs = UserSession.objects.filter(**where).order_by(order_by).first()
    assert type(ours) is UserSession
    assert columns(ours) == columns(theirs)
    assert ours._state.db == "default"
    assert ours._state.adding is False
    assert ours.user == first.user  # the foreign key resolves


def test_get_field_by_field(rows):
    first, second, _third = rows
    UserSession.objects.filter(pk=second.pk).update(
        remember=True, ended_at=START, ip="10.0.0.1", user_agent="Zoë ☃")

    ours = get(where={"pk": second.pk})

    assert columns(ours) == columns(UserSession.objects.get(pk=second.pk))
    assert (ours.remember, ours.ended_at, ours.ip, ours.user_agent) == (
        True, START, "10.0.0.1", "Zoë ☃")
    assert ours.last_seen_at == START + timedelta(hours=2)
    assert ours.get_deferred_fields() == set()


def test_get_with_filters(rows):
    first, second, third = rows
    where = {"user_id": first.user_id, "last_seen_at__lt": third.last_seen_at}
    assert get(where=where, order_by="-last_seen_at").pk == second.pk
    assert get(where={"key_digest__in": [first.key_digest, third.key_digest]},
               order_by="-id").pk == third.pk
    assert get(where={"user": first.user_id, "key_digest": first.key_digest}).pk == first.pk


def test_get_returns_none_when_nothing_matches(rows):
    first, *_ = rows
    assert get(where={"user_id": first.user_id, "key_digest": "nobody"}) is None
    assert get(where={"last_seen_at__lt": START}, order_by="-last_seen_at") is None
    assert get(where={"pk__in": [-1, -2]}) is None


def test_get_with_a_char_primary_key():
    Session.objects.create(session_key="s" * 32, session_data="données", expire_date=START)
    session = db.get(Session, using="default", where={"pk": "s" * 32})
    assert type(session) is Session
    assert columns(session) == {"session_key": "s" * 32, "session_data": "données",
                                "expire_date": START}
    assert (session._state.db, session._state.adding) == ("default", False)
    assert db.get(Session, using="default", where={"session_key": "t" * 32}) is None


# The statement cache


def test_reads_and_inserts_build_their_sql_once_per_shape(rows, user, sql_cache):
    first, second, third = rows
    select(["id"], where={"pk": first.pk})
    select(["id"], where={"pk": second.pk})
    assert len(sql_cache) == 1
    (sql,) = sql_cache.values()
    assert sql.startswith("SELECT ")

    select(["id", "remember"], where={"pk": first.pk})  # other fields
    assert len(sql_cache) == 2
    select(["id"], where={"pk__lt": first.pk})  # other operator
    assert len(sql_cache) == 3
    select(["id"], where={"pk": first.pk}, order_by="id")  # ordered
    select(["id"], where={"pk": first.pk}, order_by="-id")
    assert len(sql_cache) == 5
    select(["id"], where={"pk": first.pk}, order_by="-id", limit=1)  # limited
    select(["id"], where={"pk": first.pk}, order_by="-id", limit=2)
    assert len(sql_cache) == 7

    assert get(where={"pk": first.pk}).pk == first.pk
    assert get(where={"pk": third.pk}).pk == third.pk
    assert len(sql_cache) == 8
    get(where={"pk": first.pk}, order_by="pk")  # the default ordering: the same statement
    assert len(sql_cache) == 8
    get(where={"pk": first.pk}, order_by="-pk")
    assert len(sql_cache) == 9

    db.insert(UserSession, using="default", values=session_values(user))
    db.insert(UserSession, using="default", values=session_values(user, key_digest="z"))
    assert len(sql_cache) == 10
    fewer = session_values(user, key_digest="y")
    del fewer["ip"], fewer["ended_at"]  # other columns
    db.insert(UserSession, using="default", values=fewer)
    assert len(sql_cache) == 11
    assert len(set(sql_cache.values())) == 11
    assert UserSession.objects.filter(key_digest__in=["z", "y"]).count() == 2


# --- edge cases of the conditions -------------------------------------------------------------

def test_an_empty_in_list_matches_nothing(rows):
    assert db.select(UserSession, ["id"], using="default", where={"pk__in": []}) == []
    assert update(where={"pk__in": []}, values={"end_reason": "x"}) == 0
    assert set(reasons().values()) == {""}


def test_none_matches_null_as_the_orm_does(rows):
    first, second, _third = rows
    UserSession.objects.filter(pk=first.pk).update(ended_at=START)
    open_ids = {pk for (pk,) in db.select(UserSession, ["id"], using="default",
                                           where={"ended_at": None})}
    assert open_ids == set(UserSession.objects.filter(ended_at=None).values_list("pk", flat=True))
    assert first.pk not in open_ids and second.pk in open_ids
    assert update(where={"user": first.user_id, "ended_at": None},
                  values={"end_reason": "all"}) == 2


def test_a_model_instance_stands_for_its_primary_key(rows, user):
    assert len(db.select(UserSession, ["id"], using="default", where={"user": user})) == 3
    found = db.get(UserSession, using="default", where={"user": user, "pk": rows[1]})
    assert found.pk == rows[1].pk
    pk = db.insert(UserSession, using="default", values={
        "user": user, "key_digest": "f" * 64, "created_at": START, "last_seen_at": START,
        "ip": None, "user_agent": "", "device": "", "remember": False, "ended_at": None,
        "end_reason": ""})
    assert UserSession.objects.get(pk=pk).user_id == user.pk


def test_an_empty_condition_is_refused(rows):
    with pytest.raises(ValueError):
        update(where={}, values={"end_reason": "everyone"})
    assert set(reasons().values()) == {""}


def test_get_orders_by_primary_key_unless_told(rows, user):
    assert db.get(UserSession, using="default", where={"user_id": user.pk}).pk == rows[0].pk


@pytest.mark.parametrize("model", [UserSession, LoginThrottle, Event, PendingSeal, Session])
def test_values_are_prepared_as_the_fields_prepare_them(model, user):
    from django.utils.safestring import mark_safe

    samples = ["text", "", "ünïcødé ✓", mark_safe("<b>safe</b>"), 7, 0, -3, True, False, None,
               2**40, START, uuid.uuid4(), "2001:0db8:0000:0000:0000:0000:0000:0001", "10.0.0.1"]
    for field in model._meta.concrete_fields:
        for value in samples:
            for save in (True, False):
                try:
                    expected = (field.get_db_prep_save(value, connection) if save
                                else field.get_db_prep_value(value, connection))
                except (TypeError, ValueError, AttributeError, ValidationError):
                    continue  # a value the field refuses: the ORM path, taken too, refuses it
                got = db._prepare(field, value, connection, save=save)
                assert got == expected and type(got) is type(expected), (field, value, save)


def test_bools_for_integers_take_the_fields_own_way():
    pk = UserSession._meta.pk
    assert db._prepare(pk, True, connection, save=False) == 1
    assert type(db._prepare(pk, True, connection, save=False)) is int


def test_get_through_reads_the_instance_a_matching_row_points_to(user, sql_cache):
    from django.contrib.auth import get_user_model

    from accounts.models import EmailAddress

    other = type(user).objects.create_user("other@example.com", "x" * 20)
    EmailAddress.objects.create(user=user, email="claim@example.com", verified=False)
    EmailAddress.objects.create(user=other, email="claim@example.com", verified=True)
    model = get_user_model()

    def holder(email, any_of=("verified", "primary")):
        return db.get_through(model, using="default", related=EmailAddress, link="user",
                              where={"email": email}, any_of=any_of)

    found = holder("claim@example.com")
    assert found == other
    # Every field loaded and converted as the ORM would.
    fresh = model.objects.get(pk=other.pk)
    assert all(getattr(found, f.attname) == getattr(fresh, f.attname)
               for f in model._meta.concrete_fields)
    assert holder("claim@example.com", any_of=()) == user  # the first by primary key
    assert holder("nobody@example.com") is None
    assert len(sql_cache) == 2  # one statement per shape, reused
