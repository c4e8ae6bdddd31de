"""Who is in each room, for the overview of many rooms, kept for at most a second.

LiveKit has no call that lists the participants of several rooms, so
`rooms { participants }` costs one ListParticipants per room: for the 50
rooms of a host's dashboard, about 17 times one call, and every dashboard
polls. This cache answers such fan-outs from what was fetched within the last
`ttl` seconds, and fetches each room once however many requests ask at the
same moment (single flight).

Freshness:

* Every room event this instance sees drops that room's entry at once: our own
  changes (the resolvers drop the room themselves, before answering), LiveKit's
  webhooks (joins, leaves, tracks published and unpublished, rooms closed),
  changes made on other instances (through the broker) and the reconciler's
  repairs. When the broker may have missed events, everything is dropped.
* What LiveKit sends no webhook for (a client muting itself or changing its
  own metadata), or a webhook that never arrives, is seen at most `ttl`
  seconds late.
* A fetch that was in flight when its room was dropped still answers the
  requests that were waiting for it (they asked before the change), but is not
  kept.

Only the fan-out reads through here. Single-room reads (`participants(room)`,
`participant`, REST) and everything that reads to write go to LiveKit.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from livekit.protocol import models

__all__ = ["ParticipantCache"]

Participants = list[models.ParticipantInfo]


class ParticipantCache:
    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Participants]],
        *,
        ttl: float,
        concurrency: int,
        max_rooms: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._limit = asyncio.Semaphore(concurrency)
        self._max_rooms = max_rooms
        self._clock = clock
        # room -> (when its fetch started, participants); least recently used first
        self._entries: OrderedDict[str, tuple[float, Participants]] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[Participants]] = {}

    def _fresh(self, room: str, now: float) -> Participants | None:
        entry = self._entries.get(room)
        if entry is None:
            return None
        if now - entry[0] < self._ttl:
            self._entries.move_to_end(room)
            return entry[1]
        del self._entries[room]
        return None

    async def get(self, room: str) -> Participants:
        fresh = self._fresh(room, self._clock())
        if fresh is not None:
            return fresh
        flight = self._in_flight.get(room)
        if flight is None:
            flight = asyncio.ensure_future(self._load(room))
            flight.add_done_callback(_retrieve)
            self._in_flight[room] = flight
        # One waiter giving up (its client went away) must not cancel the fetch the others wait for.
        return await asyncio.shield(flight)

    async def get_many(self, rooms: list[str]) -> list[Participants]:
        # Fresh rooms are answered here; only the others cost a task each.
        now = self._clock()
        found = [self._fresh(room, now) for room in rooms]
        missing = [index for index, participants in enumerate(found) if participants is None]
        if missing:
            fetched = await asyncio.gather(*(self.get(rooms[index]) for index in missing))
            for index, participants in zip(missing, fetched, strict=True):
                found[index] = participants
        return [participants if participants is not None else [] for participants in found]

    def invalidate(self, room: str | None) -> None:
        """Forget `room`, or with None every room; fetches in flight for it are not kept."""
        if room is None:
            self._entries.clear()
            self._in_flight.clear()
            return
        self._entries.pop(room, None)
        self._in_flight.pop(room, None)

    def __len__(self) -> int:
        return len(self._entries)

    async def _load(self, room: str) -> Participants:
        # Aged from before the call, so an entry never claims to be fresher than LiveKit's answer.
        started = self._clock()
        this = asyncio.current_task()
        try:
            async with self._limit:
                participants = await self._fetch(room)
        finally:
            kept = self._in_flight.get(room) is this
            if kept:
                del self._in_flight[room]
        if kept and self._ttl > 0:
            self._entries[room] = (started, participants)
            self._entries.move_to_end(room)
            while len(self._entries) > self._max_rooms:
                self._entries.popitem(last=False)
        return participants


def _retrieve(task: asyncio.Task[Participants]) -> None:
    # Every waiter may have gone; the error was theirs to see, not the event loop's to log.
    if not task.cancelled():
        task.exception()
