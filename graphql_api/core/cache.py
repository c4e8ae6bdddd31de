"""What the overview of many rooms reads, kept for at most a second: room listings and who is in each room.

LiveKit has no call that lists the participants of several rooms, so
`rooms { participants }` costs one ListRooms and one ListParticipants per room:
for the 50 rooms of a host's dashboard, about 17 times one call, and every
dashboard polls. A `FlightCache` answers such overviews from what was fetched
within the last `ttl` seconds, and fetches each key once however many requests
ask at the same moment (single flight).

Freshness (see `Core.forget`):

* Every room event this instance sees drops that room's participants, and every
  room listing, at once: our own changes (the resolvers drop them themselves,
  before answering), LiveKit's webhooks (rooms started and closed, joins, leaves,
  tracks published and unpublished), changes made on other instances (through
  the broker) and the reconciler's repairs. When the broker may have missed
  events, everything is dropped.
* What LiveKit sends no webhook for (a client muting itself or changing its own
  metadata, a room's metadata changed by someone else), or a webhook that never
  arrives, is seen at most `ttl` seconds late.
* A fetch that was in flight when its key was dropped still answers the
  requests that were waiting for it (they asked before the change), but is not
  kept.

Only the overview reads through here: `rooms` when it selects `participants`,
and `Room.participants`. Everything else goes to LiveKit.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["FlightCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FlightCache(Generic[K, V]):
    """Values by key for at most `ttl` seconds, each fetched once at a time, at most `concurrency` at once."""

    def __init__(
        self,
        fetch: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        concurrency: int,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._limit = asyncio.Semaphore(concurrency)
        self._max_entries = max_entries
        self._clock = clock
        # key -> (when its fetch started, value); least recently used first
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._in_flight: dict[K, asyncio.Task[V]] = {}

    def _fresh(self, key: K, now: float) -> tuple[float, V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry[0] < self._ttl:
            self._entries.move_to_end(key)
            return entry
        del self._entries[key]
        return None

    async def get(self, key: K) -> V:
        fresh = self._fresh(key, self._clock())
        if fresh is not None:
            return fresh[1]
        flight = self._in_flight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._load(key))
            flight.add_done_callback(_retrieve)
            self._in_flight[key] = flight
        # One waiter giving up (its client went away) must not cancel the fetch the others wait for.
        return await asyncio.shield(flight)

    async def get_many(self, keys: list[K]) -> list[V]:
        # Fresh keys are answered here; only the others cost a task each.
        now = self._clock()
        found: list[tuple[float, V] | None] = [self._fresh(key, now) for key in keys]
        missing = [index for index, entry in enumerate(found) if entry is None]
        fetched = dict(zip(missing, await asyncio.gather(*(self.get(keys[i]) for i in missing)), strict=True))
        return [fetched[index] if entry is None else entry[1] for index, entry in enumerate(found)]

    def invalidate(self, key: K | None) -> None:
        """Forget `key`, or with None everything; fetches in flight for it are not kept."""
        if key is None:
            self._entries.clear()
            self._in_flight.clear()
            return
        self._entries.pop(key, None)
        self._in_flight.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    async def _load(self, key: K) -> V:
        # Aged from before the call, so an entry never claims to be fresher than LiveKit's answer.
        started = self._clock()
        this = asyncio.current_task()
        try:
            async with self._limit:
                value = await self._fetch(key)
        finally:
            kept = self._in_flight.get(key) is this
            if kept:
                del self._in_flight[key]
        if kept and self._ttl > 0:
            self._entries[key] = (started, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Every waiter may have gone; the error was theirs to see, not the event loop's to log.
    if not task.cancelled():
        task.exception()
