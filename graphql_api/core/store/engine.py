"""`Store`: the async engine, and transactions with a deadline whose failures are a 503.

Every use of the database goes through `Store.begin()` (or `insert_committed`, a
group commit of single rows, for the audit trail's), so each has a deadline
(`GXRTC_DATABASE_TIMEOUT_SECONDS`) and an unreachable or failing database is one
error for callers: `ServiceUnavailable` with reason "database unavailable".

The same deadline bounds the database's side: SQLite waits at most that long
for another writer's lock (`busy_timeout`), PostgreSQL connects within it and
cancels a statement that runs longer (`statement_timeout`). SQLite runs in WAL
mode with `synchronous=FULL`, so a commit that returned is on disk, not only in
the process or the OS's cache (docs/store.md). Processes sharing one SQLite file
take turns at writing through a file lock (`turns`), so a waiting writer wakes
when the other commits rather than sleeping in SQLite's busy handler.

Each transaction is a client span (`tracing`), a child of the request that
opened it; the group commit's flusher serves many requests at once, so its
transactions are spans of their own, in no request's trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from ... import _speedups
from ..._speedups.plain_insert import commit_rows
from ...errors import GxrtcError, ServiceUnavailable
from .. import tracing
from ..metrics import DATABASE_DURATION, DATABASE_ERRORS
from .turns import WriterTurns, lock_path

__all__ = ["Store"]

log = logging.getLogger(__name__)


def _sqlite_pragmas(engine: AsyncEngine, timeout_seconds: float) -> None:
    pragmas = (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}",
        "PRAGMA foreign_keys=ON",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # SQLAlchemy rolls back every connection the pool takes back (`pool_reset_on_return`, off for
        # SQLite in `Store.open`), even one whose transaction just committed: for aiosqlite a round trip to
        # its thread per transaction, the group commit's included. Only one still in a transaction needs it.
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("the database is unavailable", reason="database unavailable")


_BATCH_ROWS = 500
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}
"""OpenTelemetry's `db.system.name` values for SQLAlchemy's dialect names (the two the store supports)."""


class Store:
    def __init__(self, engine: AsyncEngine, *, timeout_seconds: float) -> None:
        self.engine = engine
        path = lock_path(engine.url)
        self._turns = None if path is None else WriterTurns(path)
        self._timeout = timeout_seconds
        self._pending: list[tuple[Table, dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._span_attributes = {"db.system.name": _SYSTEMS.get(engine.dialect.name, engine.dialect.name)}
        self._plain_insert = _speedups.enabled()

    @classmethod
    def open(cls, url: str, *, timeout_seconds: float, pool_size: int = 5, max_overflow: int = 10) -> Store:
        options: dict[str, Any] = {}
        backend = make_url(url).get_backend_name()
        if backend == "postgresql":
            options = {
                "pool_size": pool_size,
                "max_overflow": max_overflow,
                "pool_timeout": timeout_seconds,
                # A connection the server dropped (a restart) is found before a transaction uses it.
                "pool_pre_ping": True,
                "connect_args": {
                    "timeout": timeout_seconds,
                    "command_timeout": timeout_seconds,
                    "server_settings": {"statement_timeout": str(int(timeout_seconds * 1000))},
                },
            }
        if backend == "sqlite":
            options = {"pool_reset_on_return": None}  # rolled back only when needed: `_sqlite_pragmas`
        engine = create_async_engine(url, **options)
        if backend == "sqlite":
            _sqlite_pragmas(engine, timeout_seconds)
        return cls(engine, timeout_seconds=timeout_seconds)

    @asynccontextmanager
    async def begin(self, *, writes: bool = True) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed when the block ends without an exception, within the deadline.

        `writes=False` for one that only reads: it needs no writer's turn (in WAL, readers never wait for a
        writer). A write in it would still be safe, waiting in SQLite's busy handler instead.
        """
        async with self._guarded(writes=writes), self.engine.begin() as connection:
            yield connection

    def _turn(self, writes: bool) -> AbstractAsyncContextManager[None]:
        return self._turns.turn() if writes and self._turns is not None else nullcontext()

    @asynccontextmanager
    async def _guarded(self, *, writes: bool) -> AsyncIterator[None]:
        """The deadline, the writer's turn, the span and metrics; any database failure as the 503."""
        started = time.perf_counter()
        with tracing.client_span("transaction", self._span_attributes) as span:
            try:
                async with asyncio.timeout(self._timeout), self._turn(writes):
                    yield
            except GxrtcError as error:
                tracing.failed(span, type(error).__name__)
                raise
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                DATABASE_ERRORS.inc()
                tracing.failed(span, type(exc).__name__)
                log.warning("database unavailable: %s", type(exc).__name__)
                raise _unavailable() from None
            finally:
                DATABASE_DURATION.observe(time.perf_counter() - started)

    async def insert_committed(self, table: Table, row: dict[str, Any]) -> None:
        """Insert `row` and return once it is committed, in one transaction with the rows others asked for meanwhile.

        A group commit: while one transaction commits (an fsync on SQLite), the rows that arrive wait for the
        next, so concurrent writers share commits rather than queueing for one each. Each caller still returns
        only after its own row is durable, or gets the 503 of the transaction that failed to commit it.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((table, row, future))
        if self._flusher is None or self._flusher.done():
            # In a context of its own: not a child of whichever request happened to start it.
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_BATCH_ROWS], self._pending[_BATCH_ROWS:]
            by_table: dict[Table, list[dict[str, Any]]] = {}
            for table, row, _ in batch:
                by_table.setdefault(table, []).append(row)
            try:
                if self._plain_insert:
                    # On SQLite one round trip to aiosqlite's thread for the inserts and the commit.
                    async with self._guarded(writes=True), self.engine.connect() as connection:
                        await commit_rows(connection, by_table)
                else:
                    async with self.begin() as connection:
                        for table, rows in by_table.items():
                            await connection.execute(insert(table), rows)
            except Exception as exc:
                # Anything else (a driver's own error, a bug) must not leave the batch's callers waiting forever.
                if not isinstance(exc, ServiceUnavailable):
                    log.exception("the group commit failed")
                for _, _, future in batch:
                    if not future.done():  # a caller cancelled meanwhile has nobody to tell
                        future.set_exception(_unavailable())
            else:
                for _, _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def aclose(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await self._flusher
        await self.engine.dispose()
        if self._turns is not None:
            self._turns.close()
