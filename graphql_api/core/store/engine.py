"""`Store`: the async engine, and transactions with a deadline whose failures are a 503.

Every use of the database goes through `Store.begin()`, so each has a deadline
(`GXRTC_DATABASE_TIMEOUT_SECONDS`) and an unreachable or failing database is one
error for callers: `ServiceUnavailable` with reason "database unavailable".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...errors import GxrtcError, ServiceUnavailable

__all__ = ["Store"]

log = logging.getLogger(__name__)


class Store:
    def __init__(self, engine: AsyncEngine, *, timeout_seconds: float) -> None:
        self.engine = engine
        self._timeout = timeout_seconds

    @classmethod
    def open(cls, url: str, *, timeout_seconds: float) -> Store:
        return cls(create_async_engine(url), timeout_seconds=timeout_seconds)

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
