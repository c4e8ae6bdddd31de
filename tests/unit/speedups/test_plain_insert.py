"""The group commit's precompiled INSERT stores exactly the rows SQLAlchemy's `insert(table)` stores.

Two fresh stores take the same batches, one through `plain_insert.insert_rows` and one through
`connection.execute(insert(table), rows)`; every table's rows, ids included, must be equal. The batches
hold what audit rows hold (None, non-ASCII text, nested JSON, floats), rows without a nullable column and a
table whose columns have defaults, which take SQLAlchemy's path. `compare_stores` is also run on
PostgreSQL by tests/integration/test_store.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select

from graphql_api._speedups import plain_insert
from graphql_api.core.store import Store, audit_events, bans
from graphql_api.core.store.migrate import upgrade
from graphql_api.errors import ServiceUnavailable

__all__ = ["BATCHES", "compare_commits", "compare_stores"]


def _audit(index: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "actor": f"key:admin-{index}",
        "actor_role": "admin",
        "credential": "api_key",
        "face": "rest",
        "action": "create_token",
        "room": f"room-{index % 3}",
        "identity": f"someone-{index}",
        "detail": {"hidden": False, "ttl_seconds": 60 + index, "can_publish_sources": ["camera", "microphone"]},
        "request_id": f"{index:032x}",
        "at": 1_700_000_000.123456 + index / 7,
        "result": "ok",
    }
    return {**row, **changes}


BATCHES: list[tuple[Any, list[dict[str, Any]]]] = [
    (audit_events, [_audit(1)]),
    (audit_events, [_audit(index) for index in range(2, 40)]),
    (
        audit_events,
        [
            _audit(40, room=None, identity=None, request_id=None, detail={}),
            _audit(41, actor="王小明", identity="zoë 🎥", detail={"name": '会议 "一"\n', "nested": {"a": [1, 2.5]}}),
            _audit(42, result="banned", detail={"reason": "\\ backslash \u2028 and \x7f"}),
        ],
    ),
    (audit_events, [{key: value for key, value in _audit(index).items() if key != "request_id"} for index in (43, 44)]),
    (bans, [{"room": "r", "identity": "x", "banned_by": "m", "banned_at": 5.0, "expires_at": None}]),
    (bans, [{"room": "r", "identity": "y", "reason": "spam", "banned_by": "m", "banned_at": 6.5, "expires_at": 99.0}]),
]


async def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    async with store.begin() as connection:
        found = {}
        for table in (audit_events, bans):
            order = [column for column in table.primary_key.columns] or list(table.c)
            result = await connection.execute(select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in result]
        return found


async def compare_stores(fast: Store, usual: Store) -> None:
    for table, rows in BATCHES:
        async with fast.begin() as connection:
            await plain_insert.insert_rows(connection, table, rows)
        async with usual.begin() as connection:
            await connection.execute(insert(table), rows)
    fast_rows, usual_rows = await _rows(fast), await _rows(usual)
    assert len(fast_rows["audit_events"]) == sum(len(rows) for table, rows in BATCHES if table is audit_events)
    assert fast_rows == usual_rows


async def _migrated(path: Path) -> Store:
    store = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=5)
    await upgrade(store)
    return store


async def test_the_rows_equal_sqlalchemys_on_sqlite(tmp_path: Path) -> None:
    fast, usual = await _migrated(tmp_path / "fast.sqlite3"), await _migrated(tmp_path / "usual.sqlite3")
    try:
        await compare_stores(fast, usual)
    finally:
        await fast.aclose()
        await usual.aclose()


def test_a_table_with_defaults_left_out_is_sqlalchemys() -> None:
    from sqlalchemy.dialects import sqlite

    audit = plain_insert._compile(audit_events, tuple(_audit(1)), sqlite.dialect())
    assert audit is not None
    assert audit[0].startswith("INSERT INTO audit_events")
    without_reason = ("room", "identity", "banned_by", "banned_at", "expires_at")  # reason has a default
    assert plain_insert._compile(bans, without_reason, sqlite.dialect()) is None


async def test_a_row_the_database_refuses_is_the_stores_503_both_ways(tmp_path: Path) -> None:
    fast, usual = await _migrated(tmp_path / "fast.sqlite3"), await _migrated(tmp_path / "usual.sqlite3")
    refused = [_audit(1, actor=None)]  # NOT NULL
    try:
        with pytest.raises(ServiceUnavailable):
            async with fast.begin() as connection:
                await plain_insert.insert_rows(connection, audit_events, refused)
        with pytest.raises(ServiceUnavailable):
            async with usual.begin() as connection:
                await connection.execute(insert(audit_events), refused)
        await compare_stores(fast, usual)  # and both stores still work
    finally:
        await fast.aclose()
        await usual.aclose()


# The group commit: `plain_insert.commit_rows` (on SQLite the inserts and the commit in one round trip to
# aiosqlite's thread) against the store's path with the speed-ups off (`begin`, SQLAlchemy's insert, commit).


def _store(url: str, monkeypatch: pytest.MonkeyPatch, *, speedups: bool, timeout_seconds: float = 5) -> Store:
    with monkeypatch.context() as patched:
        patched.setenv("GXRTC_SPEEDUPS", "on" if speedups else "off")
        return Store.open(url, timeout_seconds=timeout_seconds)


async def _commit_together(store: Store, rows: list[tuple[Any, dict[str, Any]]]) -> list[BaseException | None]:
    """Every row through `insert_committed` at once, so they share one commit; each caller's outcome."""
    outcomes = await asyncio.gather(
        *(store.insert_committed(table, row) for table, row in rows), return_exceptions=True
    )
    return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes]


GROUPS: list[list[tuple[Any, dict[str, Any]]]] = [
    *([(table, row) for row in rows] for table, rows in BATCHES),
    # Two tables in one commit, both plain.
    [(audit_events, _audit(50)), (bans, {**BATCHES[5][1][0], "identity": "z"}), (audit_events, _audit(51))],
]


async def compare_commits(fast: Store, usual: Store) -> None:
    """The same groups through both stores: every caller answered alike, the same rows stored."""
    assert fast._plain_insert
    assert not usual._plain_insert
    for group in GROUPS:
        assert await _commit_together(fast, group) == await _commit_together(usual, group) == [None] * len(group)
    refused = [(audit_events, _audit(60)), (audit_events, _audit(61, actor=None)), (audit_events, _audit(62))]
    for store in (fast, usual):
        outcomes = await _commit_together(store, refused)  # NOT NULL: the whole batch fails, every waiter told
        assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
    fast_rows, usual_rows = await _rows(fast), await _rows(usual)
    assert len(fast_rows["audit_events"]) == sum(table is audit_events for group in GROUPS for table, _ in group)
    assert fast_rows == usual_rows


async def test_a_group_commit_stores_what_the_usual_path_stores_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _store(f"sqlite+aiosqlite:///{tmp_path / 'fast.sqlite3'}", monkeypatch, speedups=True)
    usual = _store(f"sqlite+aiosqlite:///{tmp_path / 'usual.sqlite3'}", monkeypatch, speedups=False)
    try:
        await upgrade(fast)
        await upgrade(usual)
        await compare_commits(fast, usual)
    finally:
        await fast.aclose()
        await usual.aclose()


async def test_a_locked_database_fails_a_group_commit_alike_and_both_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores, holders = [], []
    for name, speedups in (("fast", True), ("usual", False)):
        path = tmp_path / f"{name}.sqlite3"
        store = _store(f"sqlite+aiosqlite:///{path}", monkeypatch, speedups=speedups, timeout_seconds=0.3)
        await upgrade(store)
        stores.append(store)
        holder = sqlite3.connect(path, isolation_level=None)  # a writer outside the store: SQLite's lock only
        holder.execute("BEGIN IMMEDIATE")
        holders.append(holder)
    try:
        for store in stores:
            outcomes = await _commit_together(store, [(audit_events, _audit(1)), (audit_events, _audit(2))])
            assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
        for holder in holders:
            holder.execute("ROLLBACK")
        await compare_commits(*stores)
    finally:
        for holder in holders:
            holder.close()
        for store in stores:
            await store.aclose()


async def test_a_group_commit_is_one_round_trip_to_aiosqlites_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await execute(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    trips = {}
    for name, speedups in (("fast", True), ("usual", False)):
        store = _store(f"sqlite+aiosqlite:///{tmp_path / name}.sqlite3", monkeypatch, speedups=speedups)
        try:
            await upgrade(store)
            await _commit_together(store, [(audit_events, _audit(0))])  # the pool's connection is open
            with monkeypatch.context() as patched:
                patched.setattr(aiosqlite.Connection, "_execute", counted)
                calls.clear()
                assert await _commit_together(store, [(audit_events, _audit(index)) for index in (1, 2)]) == [None] * 2
                trips[name] = len(calls)
        finally:
            await store.aclose()
    assert trips["fast"] == 1  # SQLAlchemy's path: the cursor, the execute, its close, the commit
    assert trips["usual"] > 1
