"""The group commit's multi-row INSERT as one precompiled statement with plain tuples, in place of SQLAlchemy Core's.

`Store._flush` (the audit trail's group commit) inserts a batch of rows per
commit; through `connection.execute(insert(table), rows)` SQLAlchemy builds the
statement, looks its compilation up in the cache and processes every row's
dict of parameters anew each time, a share of each audited act's cost that
rivals the commit itself. Here the statement is compiled once per (table,
columns, dialect) and each row becomes a tuple: each value through its
column's own bind processor (the JSON column's serializer, for one), then one
executemany: aiosqlite's own on SQLite (one round trip to its thread, not
three), `exec_driver_sql` on other drivers. Rows whose columns differ
from the first's take SQLAlchemy's path.

Proven equal (the stored rows, ids included, on SQLite and PostgreSQL) by
tests/unit/speedups/test_plain_insert.py and tests/integration/test_store.py.
Off with `GXRTC_SPEEDUPS=off`: `connection.execute(insert(table), rows)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["insert_rows"]

_Processor = Callable[[Any], Any] | None
_Compiled = tuple[str, tuple[tuple[str, _Processor], ...]]
_compiled: dict[tuple[Table, tuple[str, ...], str], _Compiled | None] = {}


def _compile(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _Compiled | None:
    """The statement and its parameters' order and processors; None where only SQLAlchemy's path is right."""
    key = (table, columns, dialect.name)
    if key not in _compiled:
        statement = insert(table).values({name: bindparam(name) for name in columns})
        compiled = statement.compile(dialect=dialect)
        order = compiled.positiontup if compiled.positional else None
        # A named paramstyle (the driver takes dicts anyway), or a column left to its default (which
        # SQLAlchemy's execution computes per row): not ours to do.
        if order is None or sorted(order) != sorted(columns):
            _compiled[key] = None
        else:
            processors = tuple(
                (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in order
            )
            _compiled[key] = (compiled.string, processors)
    return _compiled[key]


async def insert_rows(connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` into `table` in `connection`'s transaction: what `connection.execute(insert(table), rows)` does."""
    columns = tuple(rows[0])
    if any(tuple(row) != columns for row in rows):
        await connection.execute(insert(table), list(rows))
        return
    compiled = _compile(table, columns, connection.dialect)
    if compiled is None:
        await connection.execute(insert(table), list(rows))
        return
    sql, processors = compiled
    parameters = [
        tuple(row[name] if process is None else process(row[name]) for name, process in processors) for row in rows
    ]
    if connection.dialect.driver != "aiosqlite":
        await connection.exec_driver_sql(sql, parameters)
        return
    # aiosqlite's own executemany is one round trip to its thread; SQLAlchemy's cursor takes three (open,
    # execute, close). Its errors become SQLAlchemy's, as SQLAlchemy's path raises them (the store's 503).
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        await driver.executemany(sql, parameters)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error
