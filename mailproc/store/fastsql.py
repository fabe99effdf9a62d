"""Statements of the intake's hot path, built once and executed with their parameters.

peewee builds every statement anew from its query objects: ~0.35 ms of Python for an INSERT,
ten times what SQLite then takes to run it. A complaint mail makes some fifty statements, so
the hot ones (rows created per mail, the chain head) go through here: the SQL text is made
once per table, column set and database kind, and only the values are converted per call
(each field's own ``db_value``, as peewee does).
"""

from __future__ import annotations

from typing import Any, TypeVar

import peewee as pw

from mailproc.store.models import db

M = TypeVar("M", bound=pw.Model)

_SQL: dict[tuple[Any, ...], str] = {}


def _quote(name: str) -> str:
    q = db.obj.quote
    return f"{q[0]}{name}{q[-1]}"


def create(model: type[M], **values: Any) -> M:
    """``model.create(**values)`` without peewee's statement building: the row with its
    defaults applied, inserted, its primary key set."""
    row = model(**values)
    meta = model._meta  # noqa: SLF001 - peewee's public metadata lives under _meta
    pk = meta.primary_key
    data = {k: v for k, v in row.__data__.items() if not (k == pk.name and v is None)}
    names = tuple(data)
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    key = (model, names, sqlite)
    sql = _SQL.get(key)
    if sql is None:
        columns = ", ".join(_quote(meta.fields[n].column_name) for n in names)
        marks = ", ".join([db.obj.param] * len(names))
        sql = f"INSERT INTO {_quote(meta.table_name)} ({columns}) VALUES ({marks})"
        if not sqlite and pk.name not in data:
            sql += f" RETURNING {_quote(pk.column_name)}"
        _SQL[key] = sql
    fields = meta.fields
    cursor = db.obj.execute_sql(sql, [fields[n].db_value(data[n]) for n in names])
    if pk.name not in data:
        setattr(row, pk.name, cursor.lastrowid if sqlite else cursor.fetchone()[0])
    row._dirty.clear()  # noqa: SLF001 - as Model.save leaves a saved row
    return row


def execute(key: str, build: Any, params: list[Any] | tuple[Any, ...]) -> Any:
    """Run the statement ``build()`` makes (once per key and database kind: a peewee query,
    whose SQL text is kept) with ``params``; returns the cursor."""
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    sql = _SQL.get((key, sqlite))
    if sql is None:
        sql, _ = build().sql()
        _SQL[(key, sqlite)] = sql
    return db.obj.execute_sql(sql, params)


def update(model: type[pw.Model], values: dict[str, Any], **where: Any) -> int:
    """``UPDATE model SET values WHERE field = value AND …``; returns the rows changed."""
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    names, conds = tuple(values), tuple(where)
    key = ("update", model, names, conds, sqlite)
    fields = model._meta.fields  # noqa: SLF001
    sql = _SQL.get(key)
    if sql is None:
        mark = db.obj.param
        sets = ", ".join(f"{_quote(fields[n].column_name)} = {mark}" for n in names)
        tests = " AND ".join(f"{_quote(fields[n].column_name)} = {mark}" for n in conds)
        sql = f"UPDATE {_quote(model._meta.table_name)} SET {sets} WHERE {tests}"  # noqa: SLF001
        _SQL[key] = sql
    params = [fields[n].db_value(values[n]) for n in names]
    params += [fields[n].db_value(where[n]) for n in conds]
    return db.obj.execute_sql(sql, params).rowcount
