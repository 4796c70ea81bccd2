"""Bulk writes for imports, through Django's connection (same transaction, both databases).

`Model.objects.bulk_create` spends most of its time building model instances and is capped
at 999 parameters per statement on SQLite (about 15,000 customer rows/s here); these helpers
send prepared rows straight to `cursor.executemany` (about 100,000 rows/s). Values are made
database-ready with each field's own `get_db_prep_save`, so the stored form is Django's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models


def insert_columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _converter(field: models.Field, conn):
    """value → database value, as `field.get_db_prep_save` makes it, minus its per-call
    overhead: the backend's own adapt_* for dates, times and decimals, memoised per batch
    (an import repeats the same timestamp on every row)."""
    ops = conn.ops
    if isinstance(field, models.DateTimeField):
        adapt = ops.adapt_datetimefield_value
    elif isinstance(field, models.DateField):
        adapt = ops.adapt_datefield_value
    elif isinstance(field, models.DecimalField):

        def adapt(value):
            return ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)

    elif isinstance(field, models.JSONField):

        def adapt(value):
            return field.get_db_prep_save(value, conn)

    else:
        return None
    return adapt


def _preparers(fields: Sequence[models.Field]):
    conn = connections[DEFAULT_DB_ALIAS]
    return [(i, c) for i, f in enumerate(fields) if (c := _converter(f, conn)) is not None]


def _prepare(rows: Iterable[Sequence[Any]], fields: Sequence[models.Field]) -> list[list[Any]]:
    preparers = _preparers(fields)
    if not preparers:
        return [list(row) for row in rows]
    memos: list[dict] = [{} for _ in preparers]
    out = []
    for row in rows:
        row = list(row)
        for (i, adapt), memo in zip(preparers, memos, strict=True):
            value = row[i]
            if value is None:
                continue
            try:
                row[i] = memo[value]
            except KeyError:
                row[i] = memo[value] = adapt(value)
            except TypeError:  # unhashable (JSON)
                row[i] = adapt(value)
        out.append(row)
    return out


class RowMaker:
    """Database-ready rows in `fields` order from dicts of attname → value over defaults.

    The defaults are adapted once; a row copies them and adapts only its own values (memoised:
    an import repeats the same dates)."""

    MEMO_LIMIT = 50_000

    def __init__(self, fields: Sequence[models.Field], defaults: dict[str, Any]):
        conn = connections[DEFAULT_DB_ALIAS]
        self.fields = list(fields)
        self.position = {f.attname: i for i, f in enumerate(self.fields)}
        self.adapters = {f.attname: c for f in self.fields if (c := _converter(f, conn))}
        self.memos: dict[str, dict] = {name: {} for name in self.adapters}
        self.template = [self.adapt(f.attname, defaults.get(f.attname)) for f in self.fields]

    def adapt(self, name: str, value: Any) -> Any:
        adapt = self.adapters.get(name)
        if adapt is None or value is None:
            return value
        memo = self.memos[name]
        try:
            return memo[value]
        except KeyError:
            if len(memo) >= self.MEMO_LIMIT:
                memo.clear()
            result = memo[value] = adapt(value)
            return result
        except TypeError:  # unhashable (JSON)
            return adapt(value)

    def row(self, values: dict[str, Any]) -> list[Any]:
        out = self.template.copy()
        position, adapters = self.position, self.adapters
        for key, value in values.items():
            i = position.get(key)
            if i is not None:
                out[i] = self.adapt(key, value) if key in adapters else value
        return out


def _insert_sql(model: type[models.Model], fields: Sequence[models.Field]) -> tuple[str, str]:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Only quoted model metadata goes into the SQL text; every value is a parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ", one  # noqa: S608


def insert_rows(
    model: type[models.Model],
    fields: Sequence[models.Field],
    rows: Sequence[Sequence[Any]],
    *,
    batch: int = 5000,
    prepared: bool = False,
) -> None:
    """INSERT rows (values in `fields` order) with executemany; `prepared`: made by a
    RowMaker, already database-ready."""
    if not rows:
        return
    head, one = _insert_sql(model, fields)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            cursor.executemany(head + one, chunk if prepared else _prepare(chunk, fields))


def insert_rows_returning_ids(
    model: type[models.Model],
    fields: Sequence[models.Field],
    rows: Sequence[Sequence[Any]],
    *,
    prepared: bool = False,
) -> list[int]:
    """INSERT rows and return their new primary keys in row order (multi-row VALUES …
    RETURNING, as Django's bulk_create does); falls back to bulk_create elsewhere."""
    if not rows:
        return []
    if not connection.features.can_return_rows_from_bulk_insert:
        if prepared:
            raise ValueError("prepared rows need INSERT … RETURNING")
        objs = model._default_manager.bulk_create(
            [model(**{f.attname: v for f, v in zip(fields, row, strict=True)}) for row in rows]
        )
        return [obj.pk for obj in objs]
    head, one = _insert_sql(model, fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    per_statement = max(1, min(1000, 30000 // len(fields)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            if not prepared:
                chunk = _prepare(chunk, fields)
            sql = head + ", ".join([one] * len(chunk)) + f" RETURNING {pk}"
            cursor.execute(sql, [value for row in chunk for value in row])
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def update_rows(
    model: type[models.Model],
    fields: Sequence[models.Field],
    rows: Sequence[Sequence[Any]],
    *,
    where: Sequence[str] = ("id",),
) -> None:
    """UPDATE … SET fields WHERE where-columns, one parameter row each: values then keys."""
    if not rows:
        return
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    cond = " AND ".join(f"{quote(c)} = %s" for c in where)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {cond}"  # noqa: S608
    params = _prepare(rows, fields)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
