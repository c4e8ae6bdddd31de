"""Processes sharing one SQLite file take turns at writing (`core.store.turns`): a waiting writer wakes when the
other commits, so two processes writing at once lose no row and see no "database is locked"; a turn held
past the store's deadline is the store's 503, and the turns come back once it is released."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from graphql_api.core.store import Store, audit_events
from graphql_api.core.store.migrate import upgrade
from graphql_api.core.store.turns import WriterTurns, lock_path
from graphql_api.errors import ServiceUnavailable

ROOT = Path(__file__).resolve().parents[4]
HOLDS = 12
STREAM = 150


def _row(actor: str, index: int) -> dict[str, Any]:
    return {
        "at": time.time(),
        "actor": actor,
        "actor_role": "admin",
        "credential": "api_key",
        "face": "rest",
        "action": "create_token",
        "room": "r",
        "identity": f"someone-{index}",
        "detail": {},
        "result": "ok",
        "request_id": None,
    }


async def _write(path: str, actor: str, start_at: float) -> int:
    """One process's share: transactions that hold the write lock a while, and a stream of group commits.

    Each holding transaction keeps SQLite's write lock 40 ms and the next begins 5 ms after: a writer left to
    SQLite's busy handler, which sleeps and polls, mostly polls while the lock is held and runs out of its
    deadline; one woken at release gets in. The number of 503s is the result.
    """
    store = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=0.6)
    failures = 0

    async def hold(index: int) -> None:
        async with store.begin() as connection:
            await connection.execute(insert(audit_events).values(_row(actor, -index)))
            await asyncio.sleep(0.04)

    async def holding() -> None:
        nonlocal failures
        for index in range(HOLDS):
            try:
                await hold(index)
            except ServiceUnavailable:
                failures += 1
            await asyncio.sleep(0.005)

    async def streaming(index: int) -> None:
        nonlocal failures
        await asyncio.sleep(index * 0.003)
        try:
            await store.insert_committed(audit_events, _row(actor, index))
        except ServiceUnavailable:
            failures += 1

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(holding(), *(streaming(index) for index in range(STREAM)))
    await store.aclose()
    return failures


def write(path: str, actor: str, start_at: str) -> None:
    """The child process's entry (`python -c`): exits with the number of 503s it got."""
    sys.exit(asyncio.run(_write(path, actor, float(start_at))))


async def _migrated(path: Path, timeout_seconds: float = 5) -> Store:
    store = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=timeout_seconds)
    await upgrade(store)
    return store


async def _count(store: Store, actor: str | None = None) -> int:
    query = select(func.count()).select_from(audit_events)
    if actor is not None:
        query = query.where(audit_events.c.actor == actor)
    async with store.begin(writes=False) as connection:
        return int((await connection.execute(query)).scalar_one())


async def test_two_processes_writing_one_file_lose_no_row_and_see_no_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    store = await _migrated(path)
    await store.aclose()
    start_at = time.time() + 3  # both have imported by then
    code = "import sys; from tests.unit.core.store.test_writer_turns import write; write(*sys.argv[1:])"
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            str(path),
            actor,
            str(start_at),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=asyncio.subprocess.PIPE,
        )
        for actor in ("first", "second")
    ]
    finished = [await asyncio.wait_for(child.communicate(), 60) for child in children]
    outcomes = [(child.returncode, errors.decode()) for child, (_, errors) in zip(children, finished, strict=True)]
    assert [returncode for returncode, _ in outcomes] == [0, 0], outcomes  # no 503 ("database is locked")
    assert "database is locked" not in "".join(errors for _, errors in outcomes)
    store = Store.open(f"sqlite+aiosqlite:///{path}", timeout_seconds=5)
    try:
        assert await _count(store, "first") == await _count(store, "second") == HOLDS + STREAM
    finally:
        await store.aclose()


async def test_a_turn_held_past_the_deadline_is_the_stores_503_and_the_turns_come_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = await _migrated(path, timeout_seconds=0.3)
    other = os.open(f"{path}-commit", os.O_RDWR | os.O_CREAT)  # another process's turn, as the kernel sees it
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as raised:
            await store.insert_committed(audit_events, _row("waits", 1))
        assert raised.value.error == "database unavailable"
        assert time.monotonic() - started < 1.5  # the deadline, not a hang
        with pytest.raises(ServiceUnavailable):  # the next waits its own deadline too
            async with store.begin() as connection:
                await connection.execute(insert(audit_events).values(_row("waits", 2)))
        assert await _count(store) == 0  # a read needs no turn
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.wait_for(store.insert_committed(audit_events, _row("after", 3)), 2)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock that came late was given back
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.wait_for(store.insert_committed(audit_events, _row("after", 4)), 2)
        assert await _count(store) == 2
    finally:
        os.close(other)
        await store.aclose()


async def test_a_waiting_writer_goes_in_when_the_other_releases(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = await _migrated(path, timeout_seconds=5)
    other = os.open(f"{path}-commit", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        waiting = asyncio.create_task(store.insert_committed(audit_events, _row("waits", 1)))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # it waits for the turn, not in SQLite (nobody holds SQLite's lock)
        fcntl.flock(other, fcntl.LOCK_UN)
        await asyncio.wait_for(waiting, 1)
        assert await _count(store) == 1
    finally:
        os.close(other)
        await store.aclose()


def test_only_a_file_sqlite_database_takes_turns() -> None:
    assert (
        lock_path(make_url("sqlite+aiosqlite:////var/lib/gxrtc/gxrtc.sqlite3")) == "/var/lib/gxrtc/gxrtc.sqlite3-commit"
    )
    assert lock_path(make_url("sqlite+aiosqlite:///relative.sqlite3")) == "relative.sqlite3-commit"
    assert lock_path(make_url("sqlite+aiosqlite:///file:/data/x.db?mode=rwc&uri=true")) == "/data/x.db-commit"
    assert lock_path(make_url("sqlite+aiosqlite:///file:shared?mode=memory&uri=true")) is None
    assert lock_path(make_url("sqlite+aiosqlite://")) is None
    assert lock_path(make_url("sqlite+aiosqlite:///:memory:")) is None
    assert lock_path(make_url("postgresql+asyncpg://u:p@localhost/gxrtc")) is None


async def test_a_turn_granted_as_its_deadline_cancels_the_waiter_is_given_back(tmp_path: Path) -> None:
    turns = WriterTurns(str(tmp_path / "store.sqlite3-commit"))
    other = os.open(tmp_path / "store.sqlite3-commit", os.O_RDWR | os.O_CREAT)
    entered = asyncio.Event()

    async def write() -> None:
        async with turns.turn():
            entered.set()
            await asyncio.Event().wait()

    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        task = asyncio.create_task(write())
        await asyncio.sleep(0.1)  # it waits in the thread
        fcntl.flock(other, fcntl.LOCK_UN)
        # Without letting the loop run, the thread gets the lock and queues its grant; the cancellation is
        # queued after it, so it reaches the waiter after the grant and before the waiter ran.
        time.sleep(0.3)  # noqa: ASYNC251
        asyncio.get_running_loop().call_soon(task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not entered.is_set()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody keeps it
    finally:
        os.close(other)
        turns.close()
