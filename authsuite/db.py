"""Statements on the sign-in path, compiled once instead of on every request.

Building and compiling a queryset costs far more than running the statement it becomes:
about a tenth of a millisecond for ``Model.objects.filter(pk=...).update(...)`` against a
few hundredths for the statement itself. The few writes every sign-in, step-up and key
rotation makes go through :func:`update`, whose SQL is built from the model's metadata once
per (model, columns, database) and whose values are prepared by the model's own fields, as
the ORM would prepare them.
"""

from __future__ import annotations

from django.db import connections

_SQL: dict[tuple, str] = {}


def _update_sql(model, set_names: tuple[str, ...], where_names: tuple[str, ...],
                where_ops: tuple[str, ...], alias: str) -> str:
    key = (model._meta.label, set_names, where_names, where_ops, alias)
    sql = _SQL.get(key)
    if sql is None:
        qn = connections[alias].ops.quote_name
        column = lambda name: qn(_field(model, name).column)  # noqa: E731
        assignments = ", ".join(f"{column(name)} = %s" for name in set_names)
        conditions = " AND ".join(
            f"{column(name)} {op} %s" for name, op in zip(where_names, where_ops, strict=True))
        sql = _SQL[key] = (f"UPDATE {qn(model._meta.db_table)} "  # noqa: S608 - names, no input
                           f"SET {assignments} WHERE {conditions}")
    return sql


def _field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def update(model, *, using: str, where: dict, values: dict) -> int:
    """``UPDATE <model> SET values WHERE where``; returns the number of rows changed.

    ``where`` maps field names, or ``name__lt`` for "less than", to values. No signals are
    sent, as with ``QuerySet.update``.
    """
    connection = connections[using]
    where_names, where_ops, params = [], [], []
    for name, value in values.items():
        params.append(_field(model, name).get_db_prep_save(value, connection))
    for lookup, value in where.items():
        name, _, op = lookup.partition("__")
        where_names.append(name)
        where_ops.append({"": "=", "lt": "<"}[op])
        params.append(_field(model, name).get_db_prep_value(value, connection))
    sql = _update_sql(model, tuple(values), tuple(where_names), tuple(where_ops), using)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
