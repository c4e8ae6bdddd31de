"""SQLite connections go back to the pool without a rollback after a commit, and with one when still in a
transaction: a connection returned mid-transaction keeps neither its rows nor the write lock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from graphql_api.core.store import Store, audit_events
from graphql_api.core.store.migrate import upgrade

ROW: dict[str, Any] = {
    "actor": "root",
    "actor_role": "admin",
    "credential": "jwt",
    "face": "rest",
    "action": "kick",
    "room": "ours",
    "identity": "bob",
    "detail": {},
    "result": "ok",
    "request_id": None,
}


async def _count(store: Store) -> int:
    async with store.begin() as connection:
        return int((await connection.execute(select(func.count()).select_from(audit_events))).scalar_one())


async def test_a_connection_returned_in_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}", timeout_seconds=2)
    await upgrade(store)
    try:
        await store.insert_committed(audit_events, {**ROW, "at": time.time()})
        connection = await store.engine.connect()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # Straight to the driver, as a cancelled statement can leave it: SQLAlchemy knows of no transaction.
        await driver.execute(
            "INSERT INTO audit_events (at, actor, actor_role, credential, face, action, detail, result)"
            " VALUES (1, 'a', 'admin', 'jwt', 'rest', 'kick', '{}', 'ok')"
        )
        assert driver.in_transaction
        await connection.close()
        assert await _count(store) == 1  # the pool's one connection: it would see its own uncommitted row
        await asyncio.wait_for(store.insert_committed(audit_events, {**ROW, "at": time.time()}), 1)
        assert await _count(store) == 2
    finally:
        await store.aclose()


async def test_committed_rows_stay_after_the_connection_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=2)
    await upgrade(store)
    await asyncio.gather(*(store.insert_committed(audit_events, {**ROW, "at": time.time()}) for _ in range(5)))
    await store.aclose()
    reopened = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=2)
    try:
        assert await _count(reopened) == 5
    finally:
        await reopened.aclose()
