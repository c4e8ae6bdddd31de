"""`Store`: the async engine, and transactions with a deadline whose failures are a 503.

Every use of the database goes through `Store.begin()`, so each has a deadline
(`GXRTC_DATABASE_TIMEOUT_SECONDS`) and an unreachable or failing database is one
error for callers: `ServiceUnavailable` with reason "database unavailable".

The same deadline bounds the database's side: SQLite waits at most that long
for another writer's lock (`busy_timeout`), PostgreSQL connects within it and
cancels a statement that runs longer (`statement_timeout`). SQLite runs in WAL
mode with `synchronous=FULL`, so a commit that returned is on disk, not only in
the process or the OS's cache (docs/store.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...errors import GxrtcError, ServiceUnavailable

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


class Store:
    def __init__(self, engine: AsyncEngine, *, timeout_seconds: float) -> None:
        self.engine = engine
        self._timeout = timeout_seconds

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
        engine = create_async_engine(url, **options)
        if backend == "sqlite":
            _sqlite_pragmas(engine, timeout_seconds)
        return cls(engine, timeout_seconds=timeout_seconds)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed when the block ends without an exception, within the deadline."""
        try:
            async with asyncio.timeout(self._timeout), self.engine.begin() as connection:
                yield connection
        except GxrtcError:
            raise
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise ServiceUnavailable("the database is unavailable", reason="database unavailable") from None

    async def aclose(self) -> None:
        await self.engine.dispose()
