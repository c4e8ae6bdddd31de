"""`WriterTurns`: the processes sharing one SQLite file take turns at writing through an OS file lock.

SQLite lets one writer in at a time; another that finds the file locked waits in
SQLite's busy handler, which sleeps and retries (ever longer sleeps, up to 100 ms
each) rather than waking when the lock is released. With several workers on one
file, each write transaction of one worker then costs the other a sleep, whatever
the transaction itself took: throughput stalls and the tail grows.

So every write transaction of the store takes a turn first: within the process an
`asyncio.Lock`, across processes `fcntl.flock` on `<database file>-commit` (the
lock file sits beside the `-wal` and `-shm` files). A free lock is taken at once,
without leaving the event loop; a held one is waited for by a thread blocked in
`flock`, which the kernel wakes the moment the holder releases. The caller's wait
is bounded by the store's deadline like the rest of its transaction; a lock that
arrives after its waiter gave up is given back at once, so a stuck holder makes
503s, never a hang or a lock kept by nobody.

SQLite's own lock still guards the data (and `busy_timeout` still bounds a wait
on a writer that does not take turns, such as the `sqlite3` shell); the turns only
decide who goes next. A property of the storage, so it lives in the store, not
among the speed-ups of library paths.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from queue import SimpleQueue

from sqlalchemy.engine import URL

__all__ = ["WriterTurns", "lock_path"]


def lock_path(url: URL) -> str | None:
    """The turns' lock file for a file SQLite database; None for an in-memory one or another database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database.startswith("file:"):  # a URI filename (`uri=true`): SQLAlchemy has its options in the query
        path, _, options = database.removeprefix("file:").partition("?")
        if "mode=memory" in options or url.query.get("mode") == "memory":
            return None
        database = path
    if database in ("", ":memory:"):
        return None
    return f"{database}-commit"


class WriterTurns:
    """One process's end of the turns at `path`: `async with turns.turn():` around a write transaction."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._local = asyncio.Lock()
        # The one thread that waits in a blocking `flock` for this process, fed one request per wait.
        self._requests: SimpleQueue[asyncio.AbstractEventLoop | None] = SimpleQueue()
        self._waiting_thread: threading.Thread | None = None
        self._blocked = False  # a request is in the thread: the lock will come to this process's file
        self._waiter: asyncio.Future[None] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the turn for the block: wait for this process's other writers, then for other processes'."""
        async with self._local:
            await self._acquire()
            try:
                yield
            finally:
                fcntl.flock(self._file(), fcntl.LOCK_UN)

    def _file(self) -> int:
        if self._fd is None:
            # Opened on first use, so a database that cannot be opened fails in a transaction (the store's 503).
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd

    async def _acquire(self) -> None:
        fd = self._file()
        if not self._blocked:
            # While a blocked `flock` is pending on this file, a non-blocking one would succeed alongside it.
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        if not self._blocked:
            self._blocked = True
            if self._waiting_thread is None or not self._waiting_thread.is_alive():
                self._waiting_thread = threading.Thread(
                    target=self._wait_in_thread, name="gxrtc-writer-turns", daemon=True
                )
                self._waiting_thread.start()
            self._requests.put(loop)
        try:
            await waiter
        except asyncio.CancelledError:
            # Cancelled by the deadline: the lock, when it comes, goes back (`_granted` finds the waiter done);
            # if it came just before the cancellation reached us, it is ours to give back.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            raise

    def _wait_in_thread(self) -> None:
        # A daemon: a lock stuck forever must not keep the process from exiting.
        while (loop := self._requests.get()) is not None:
            error: OSError | None = None
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except OSError as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(self._granted, error)
            except RuntimeError:  # the loop is closed: nobody is waiting
                return

    def _granted(self, error: OSError | None) -> None:
        self._blocked = False
        waiter, self._waiter = self._waiter, None
        if error is not None:
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)
        elif waiter is None or waiter.done():
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        else:
            waiter.set_result(None)

    def close(self) -> None:
        """Stop the waiting thread (once its wait ends) and close the file."""
        if self._waiting_thread is not None:
            self._requests.put(None)
            self._waiting_thread = None
        if self._fd is not None and not self._blocked:
            os.close(self._fd)
            self._fd = None
