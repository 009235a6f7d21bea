"""Statements on the sign-in path, compiled once instead of on every request.

Building and compiling a queryset costs far more than running the statement it becomes:
about a tenth of a millisecond for ``Model.objects.filter(pk=...).update(...)`` against a
few hundredths for the statement itself. The few statements every sign-in, step-up and key
rotation runs go through these functions, whose SQL is built from the model's metadata once
per (model, columns, database), whose parameters are prepared by the model's own fields and
whose results go through the database's converters, exactly as the ORM would do both. They
send no model signals, like ``QuerySet.update`` and ``bulk_create``.

``where`` maps field names to values (``=``, or ``IS NULL`` for None); ``name__lt`` means
"less than", ``name__in`` takes a list (an empty one matches nothing). ``"pk"`` names the
primary key; a model instance stands for its primary key. An empty ``where`` is refused:
these are targeted statements, never whole-table ones.
"""

from __future__ import annotations

from django.db import connections, models
from django.db.models.expressions import Col

_SQL: dict[tuple, str] = {}
_OPERATORS = {"": "=", "lt": "<"}

# Field classes (exactly these, not subclasses, which may prepare values their own way)
# whose preparation returns a value of this type, or None, as it is: the ORM's call chain
# for them (get_db_prep_save, get_prep_value, to_python) is skipped for such values. Not
# the other integer fields: on PostgreSQL they wrap the value in the driver's sized type.
_AS_IS = {
    models.CharField: str, models.TextField: str, models.EmailField: str,
    models.SlugField: str, models.BooleanField: bool,
    **dict.fromkeys((models.AutoField, models.BigAutoField, models.SmallAutoField), int),
}
_AS_IS_TYPE: dict = {}


def _field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _value(value):
    return value.pk if hasattr(value, "_meta") else value


def _as_is_type(field):
    """The Python type whose values ``field`` stores as they are, or None."""
    try:
        return _AS_IS_TYPE[field]
    except KeyError:
        target = field.target_field if type(field) is models.ForeignKey else field
        _AS_IS_TYPE[field] = _AS_IS.get(type(target))
        return _AS_IS_TYPE[field]


def _prepare(field, value, connection, *, save: bool):
    """``value`` as ``field`` sends it to the database (``get_db_prep_save`` for written
    values, ``get_db_prep_value`` for compared ones)."""
    value = _value(value)
    kind = _as_is_type(field)
    if kind is not None and (value is None or type(value) is kind):
        return value
    if save:
        return field.get_db_prep_save(value, connection)
    return field.get_db_prep_value(value, connection)


def _where(model, where: dict, connection) -> tuple[tuple, str, list]:
    """(shape, SQL condition, parameters) of ``where``."""
    if not where:
        raise ValueError("a condition is required")
    qn = connection.ops.quote_name
    shape, conditions, params = [], [], []
    for lookup, value in where.items():
        name, _, op = lookup.partition("__")
        field = _field(model, name)
        if op == "in":
            values = list(value)
            shape.append((name, "in", len(values)))
            if not values:
                conditions.append("1 = 0")
                continue
            conditions.append(f"{qn(field.column)} IN ({', '.join(['%s'] * len(values))})")
            params.extend(_prepare(field, v, connection, save=False) for v in values)
        elif value is None and op == "":
            shape.append((name, "null"))
            conditions.append(f"{qn(field.column)} IS NULL")
        else:
            shape.append((name, op))
            conditions.append(f"{qn(field.column)} {_OPERATORS[op]} %s")
            params.append(_prepare(field, value, connection, save=False))
    return tuple(shape), " AND ".join(conditions), params


def _cached(key: tuple, build) -> str:
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = build()
    return sql


def update(model, *, using: str, where: dict, values: dict) -> int:
    """``UPDATE <model> SET values WHERE where``; returns the number of rows changed."""
    connection = connections[using]
    qn = connection.ops.quote_name
    params = [_prepare(_field(model, name), value, connection, save=True)
              for name, value in values.items()]
    shape, condition, where_params = _where(model, where, connection)
    sql = _cached(("update", model._meta.label, tuple(values), shape, using), lambda: (
        f"UPDATE {qn(model._meta.db_table)} SET "  # noqa: S608 - names, no input
        + ", ".join(f"{qn(_field(model, name).column)} = %s" for name in values)
        + f" WHERE {condition}"))
    with connection.cursor() as cursor:
        cursor.execute(sql, params + where_params)
        return cursor.rowcount


def insert(model, *, using: str, values: dict):
    """``INSERT`` one row of ``values``; returns its primary key."""
    connection = connections[using]
    qn = connection.ops.quote_name
    pk = model._meta.pk
    params = [_prepare(_field(model, name), value, connection, save=True)
              for name, value in values.items()]
    returning = connection.features.can_return_columns_from_insert
    sql = _cached(("insert", model._meta.label, tuple(values), using), lambda: (
        f"INSERT INTO {qn(model._meta.db_table)} "  # noqa: S608 - names, no input
        f"({', '.join(qn(_field(model, name).column) for name in values)}) "
        f"VALUES ({', '.join(['%s'] * len(values))})"
        + (f" RETURNING {qn(pk.column)}" if returning else "")))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            return cursor.fetchone()[0]
        for name in ("pk", pk.name, pk.attname):
            if name in values:
                return _value(values[name])
        return connection.ops.last_insert_id(cursor, model._meta.db_table, pk.column)


def select(model, fields: list[str], *, using: str, where: dict, order_by: str = "",
           limit: int | None = None) -> list[tuple]:
    """``SELECT fields FROM <model> WHERE where [ORDER BY] [LIMIT]``: rows of Python values."""
    connection = connections[using]
    qn = connection.ops.quote_name
    table = model._meta.db_table
    columns = [_field(model, name) for name in fields]
    shape, condition, params = _where(model, where, connection)
    order_field = _field(model, order_by.lstrip("-")) if order_by else None

    def build() -> str:
        sql = (f"SELECT {', '.join(f'{qn(table)}.{qn(f.column)}' for f in columns)} "  # noqa: S608
               f"FROM {qn(table)} WHERE {condition}")
        if order_field is not None:
            sql += f" ORDER BY {qn(order_field.column)}{' DESC' if order_by[0] == '-' else ''}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql

    sql = _cached(("select", model._meta.label, tuple(fields), shape, order_by, limit, using),
                  build)
    return _rows(connection, model, fields, sql, params)


def _rows(connection, model, fields: list[str], sql: str, params: list) -> list[tuple]:
    """The rows of ``sql`` (selecting ``fields`` of ``model``), as Python values."""
    # Converters are bound to the connection's operations (one connection per thread): they
    # are kept on the connection, and go with it.
    known = connection.__dict__.setdefault("_authsuite_converters", {})
    converters = known.get(key := (model._meta.label, tuple(fields)))
    if converters is None:
        converters = known[key] = _converters(
            model, [_field(model, name) for name in fields], connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not converters:
        return rows
    converted = []
    for row in rows:
        row = list(row)
        for index, functions, expression in converters:
            for convert in functions:
                row[index] = convert(row[index], expression, connection)
        converted.append(tuple(row))
    return converted


def _converters(model, fields, connection) -> list:
    found = []
    for index, field in enumerate(fields):
        expression = Col(model._meta.db_table, field)
        functions = connection.ops.get_db_converters(expression) + field.get_db_converters(
            connection)
        if functions:
            found.append((index, functions, expression))
    return found


def get(model, *, using: str, where: dict, order_by: str = "pk"):
    """The first instance matching ``where`` in ``order_by`` order (all concrete fields
    loaded), or None. The model's default ordering is not applied."""
    fields = [f.attname for f in model._meta.concrete_fields]
    rows = select(model, fields, using=using, where=where, order_by=order_by, limit=1)
    return model.from_db(using, fields, rows[0]) if rows else None


def get_through(model, *, using: str, related, link: str, where: dict,
                any_of: tuple[str, ...] = ()):
    """The ``model`` instance that a ``related`` row matching ``where`` points to through its
    foreign key ``link`` (the first by primary key), or None; with ``any_of`` (boolean
    fields of ``related``), only a row where one of them is true counts. One statement:
    ``SELECT <model> WHERE pk IN (SELECT link FROM <related> WHERE ...)``."""
    connection = connections[using]
    qn = connection.ops.quote_name
    fields = [f.attname for f in model._meta.concrete_fields]
    shape, condition, params = _where(related, where, connection)
    if any_of:
        condition += " AND (" + " OR ".join(qn(_field(related, name).column)
                                          for name in any_of) + ")"

    def build() -> str:
        table = qn(model._meta.db_table)
        return (f"SELECT {', '.join(f'{table}.{qn(_field(model, f).column)}' for f in fields)} "  # noqa: S608 - names, no input
                f"FROM {table} WHERE {qn(model._meta.pk.column)} IN (SELECT "
                f"{qn(_field(related, link).column)} FROM {qn(related._meta.db_table)} "
                f"WHERE {condition}) ORDER BY {qn(model._meta.pk.column)} LIMIT 1")

    sql = _cached(("through", model._meta.label, related._meta.label, link, shape, any_of, using),
                  build)
    rows = _rows(connection, model, fields, sql, params)
    return model.from_db(using, fields, rows[0]) if rows else None
