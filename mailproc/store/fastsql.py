"""Statements of the intake's hot path, built once and executed with their parameters.

peewee builds every statement anew from its query objects: ~0.35 ms of Python for an INSERT,
ten times what SQLite then takes to run it. A complaint mail makes some fifty statements, so
the hot ones (rows created per mail, the chain head) go through here: the SQL text is made
once per table, column set and database kind, and only the values are converted per call
(each field's own ``db_value``, as peewee does).
"""

from __future__ import annotations

from collections.abc import Callable
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


_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _where(model: type[pw.Model], where: dict[str, Any]) -> tuple[tuple[Any, ...], str, list]:
    """The WHERE clause of ``name=value`` / ``name__op=value`` conditions: its key part, its
    SQL and its parameters. None compares as IS NULL (part of the key: the SQL differs)."""
    fields = model._meta.fields  # noqa: SLF001
    mark = db.obj.param
    key: list[Any] = []
    tests: list[str] = []
    params: list[Any] = []
    for name, value in where.items():
        field, _, op = name.partition("__")
        column = _quote(fields[field].column_name)
        if value is None:
            if op not in ("", "eq"):
                raise ValueError(f"{name}: only equality with None")
            key.append((field, "null"))
            tests.append(f"{column} IS NULL")
            continue
        key.append((field, op or "eq"))
        tests.append(f"{column} {_OPS[op or 'eq']} {mark}")
        params.append(fields[field].db_value(value))
    return tuple(key), " AND ".join(tests) or "1 = 1", params


def _select(model: type[M], columns: tuple[str, ...] | None, order_by: str | None,
            limit_one: bool, where: dict[str, Any]) -> tuple[Any, Callable[[Any], M]]:
    meta = model._meta  # noqa: SLF001
    names = columns or tuple(f.name for f in meta.sorted_fields)
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    wkey, tests, params = _where(model, where)
    key = ("select", model, names, wkey, order_by, limit_one, sqlite)
    sql = _SQL.get(key)
    fields = meta.fields
    if sql is None:
        cols = ", ".join(_quote(fields[n].column_name) for n in names)
        sql = f"SELECT {cols} FROM {_quote(meta.table_name)} WHERE {tests}"
        if order_by:
            desc = order_by.startswith("-")
            column = _quote(fields[order_by.lstrip("-")].column_name)
            sql += f" ORDER BY {column}{' DESC' if desc else ''}"
        if limit_one:
            sql += " LIMIT 1"
        _SQL[key] = sql
    cursor = db.obj.execute_sql(sql, params)
    convert = [fields[n].python_value for n in names]

    def row_object(row: tuple[Any, ...]) -> M:
        obj = model(__no_default__=1)  # as peewee's cursor wrapper makes it: nothing dirty
        data = obj.__data__
        for name, to_python, value in zip(names, convert, row, strict=True):
            data[name] = to_python(value) if value is not None else None
        return obj

    return cursor, row_object


def first(model: type[M], *, columns: tuple[str, ...] | None = None,
          order_by: str | None = None, **where: Any) -> M | None:
    """``model.select(columns).where(…).order_by(…).first()`` without peewee's statement
    building (~0.3–0.5 ms of Python a lookup): the first matching row as a model object
    (only `columns` loaded when given), or None. `where`: ``name=value`` (None: IS NULL) or
    ``name__op=value`` with op one of eq ne lt le gt ge. `order_by`: a field name, ``-name``
    descending."""
    cursor, row_object = _select(model, columns, order_by, True, where)
    row = cursor.fetchone()
    return row_object(row) if row is not None else None


def select(model: type[M], *, columns: tuple[str, ...] | None = None,
           order_by: str | None = None, **where: Any) -> list[M]:
    """Every matching row (see `first`)."""
    cursor, row_object = _select(model, columns, order_by, False, where)
    return [row_object(row) for row in cursor.fetchall()]


def count(model: type[pw.Model], **where: Any) -> int:
    """``model.select().where(…).count()``: the rows matching (see `first` for `where`)."""
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    wkey, tests, params = _where(model, where)
    key = ("count", model, wkey, sqlite)
    sql = _SQL.get(key)
    if sql is None:
        table = _quote(model._meta.table_name)  # noqa: SLF001
        sql = _SQL[key] = f"SELECT COUNT(*) FROM {table} WHERE {tests}"
    return int(db.obj.execute_sql(sql, params).fetchone()[0])


def exists(model: type[pw.Model], **where: Any) -> bool:
    """Whether a row matches (see `first` for `where`)."""
    sqlite = isinstance(db.obj, pw.SqliteDatabase)
    wkey, tests, params = _where(model, where)
    key = ("exists", model, wkey, sqlite)
    sql = _SQL.get(key)
    if sql is None:
        table = _quote(model._meta.table_name)  # noqa: SLF001
        sql = _SQL[key] = f"SELECT 1 FROM {table} WHERE {tests} LIMIT 1"
    return db.obj.execute_sql(sql, params).fetchone() is not None
