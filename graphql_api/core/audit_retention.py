"""Retention of the audit trail: rows older than `GXRTC_AUDIT_RETENTION_DAYS` are deleted (0: kept forever).

In bounded batches, each its own short transaction, so a purge of many rows
never holds the table's lock for long (SQLite has one writer at a time). Every
instance may run it: two deleting the same old rows delete each once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from sqlalchemy import delete, select

from ..errors import GxrtcError
from .store import Store, audit_events

__all__ = ["keep_audit_trail_within", "purge_expired"]

log = logging.getLogger(__name__)

BATCH: Final = 1000
_DAY: Final = 86400.0


async def purge_expired(store: Store, retention_days: float, *, now: float | None = None, batch: int = BATCH) -> int:
    """Delete every row older than `retention_days`, `batch` rows a transaction; how many were deleted."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * _DAY
    table = audit_events.c
    deleted = 0
    while True:
        oldest = select(table.id).where(table.at < cutoff).order_by(table.id).limit(batch)
        async with store.begin() as connection:
            result = await connection.execute(delete(audit_events).where(table.id.in_(oldest.scalar_subquery())))
        deleted += result.rowcount
        if result.rowcount < batch:
            return deleted
        await asyncio.sleep(0)  # let requests have the database between batches


async def keep_audit_trail_within(store: Store, retention_days: float, *, interval_seconds: float = 3600) -> None:
    """Purge now and every `interval_seconds`, until cancelled; a database that is down is tried again next time."""
    while retention_days > 0:
        try:
            if deleted := await purge_expired(store, retention_days):
                log.info("audit retention: deleted %d rows older than %g days", deleted, retention_days)
        except GxrtcError:
            log.warning("audit retention: the database is unavailable; trying again in %gs", interval_seconds)
        await asyncio.sleep(interval_seconds)
