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

`commit_rows` goes further for the whole group commit: on SQLite the batch's
inserts and its commit are one function run in aiosqlite's thread on the
sqlite3 connection (one round trip per commit, where SQLAlchemy's transaction
takes one for the insert and one for the commit); elsewhere a transaction of
`insert_rows`.

Proven equal (the stored rows, ids included, and the callers' answers, a
refused row or a locked database included, on SQLite and PostgreSQL) by
tests/unit/speedups/test_plain_insert.py and tests/integration/test_store.py.
Off with `GXRTC_SPEEDUPS=off`: the store's transaction with
`connection.execute(insert(table), rows)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["commit_rows", "insert_rows"]

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


def _plain(table: Table, rows: Sequence[dict[str, Any]], dialect: Dialect) -> tuple[str, list[tuple[Any, ...]]] | None:
    """The statement and each row's tuple of parameters; None where SQLAlchemy's path must take the rows."""
    columns = tuple(rows[0])
    if any(tuple(row) != columns for row in rows):
        return None
    compiled = _compile(table, columns, dialect)
    if compiled is None:
        return None
    sql, processors = compiled
    parameters = [
        tuple(row[name] if process is None else process(row[name]) for name, process in processors) for row in rows
    ]
    return sql, parameters


async def insert_rows(connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` into `table` in `connection`'s transaction: what `connection.execute(insert(table), rows)` does."""
    plain = _plain(table, rows, connection.dialect)
    if plain is None:
        await connection.execute(insert(table), list(rows))
        return
    sql, parameters = plain
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


_T = TypeVar("_T")


async def _in_sqlite_thread(connection: aiosqlite.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
    """`work(the sqlite3 connection)` in `connection`'s thread: one round trip, whatever it does.

    aiosqlite 0.22.1's private `_execute` and `_conn` (listed in `_internals`, which the core may not import).
    """
    result: _T = await connection._execute(lambda: work(connection._conn))  # type: ignore[no-untyped-call]
    return result


def _insert_and_commit(statements: Sequence[tuple[str, list[tuple[Any, ...]]]], sqlite: sqlite3.Connection) -> None:
    # In aiosqlite's thread. sqlite3 begins the transaction at the first INSERT (SQLAlchemy's pysqlite
    # leaves it its default isolation level); a failure takes every row of the batch back.
    try:
        for sql, parameters in statements:
            sqlite.executemany(sql, parameters)
        sqlite.commit()
    except BaseException:
        sqlite.rollback()
        raise


async def commit_rows(connection: AsyncConnection, batch: Mapping[Table, Sequence[dict[str, Any]]]) -> None:
    """Insert every table's rows and commit them, as one transaction: `connection` (not in one) is left in none.

    On aiosqlite, when every table's rows can be plain, the inserts and the commit are one function run in
    aiosqlite's thread: one round trip rather than one for the insert and one for the commit. Elsewhere (or
    for rows SQLAlchemy must take) a transaction of `insert_rows`. Either way a failure rolls the whole batch
    back and is SQLAlchemy's error, as SQLAlchemy's path raises it (the store's 503).
    """
    if connection.dialect.driver == "aiosqlite":
        statements = [_plain(table, rows, connection.dialect) for table, rows in batch.items()]
        plain = [statement for statement in statements if statement is not None]
        if len(plain) == len(statements):
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            try:
                await _in_sqlite_thread(driver, lambda sqlite: _insert_and_commit(plain, sqlite))
            except sqlite3.Error as error:
                raise DBAPIError.instance(plain[0][0], plain[0][1], error, sqlite3.Error) from error
            return
    async with connection.begin():
        for table, rows in batch.items():
            await insert_rows(connection, table, rows)
