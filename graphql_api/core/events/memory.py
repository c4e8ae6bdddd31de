"""The broker protocol, and the in-process broker (one instance): order, once, bounded."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from ..metrics import EVENTS_DEDUPLICATED, EVENTS_PUBLISHED
from .model import DEFAULT_DEDUPE_TTL, DEFAULT_QUEUE_SIZE, DEFAULT_SEQUENCE_TTL, BrokerUnavailable, RoomEvent
from .subscription import LocalSubscription, Subscription, _FanOut


class Broker(Protocol):
    async def publish(self, event: RoomEvent) -> RoomEvent | None:
        """Deliver ``event`` to every subscriber of its room, on every instance.

        Returns the event with its room's next ``sequence``, or None when an event with the same id was
        published within ``dedupe_ttl`` (nothing is delivered then). Raises :class:`BrokerUnavailable`
        when it cannot be published now; never waits longer than the broker's timeout.
        """
        ...

    def subscribe(self, room: str | None, *, watch: bool = True) -> Subscription:
        """The events of ``room`` (of every room with None) published from now on; effective on return.

        ``watch=False`` is for the service's own listeners (the reconciler): they do not make a
        room count as having subscribers.
        """
        ...

    def rooms_with_subscribers(self) -> set[str] | None:
        """The rooms someone here subscribes to; None when someone here subscribes to every room."""
        ...

    def listen(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        """Call ``listener`` with the room of every event delivered on this instance, synchronously,
        and with None whenever this instance may have missed events. Returns what stops it."""
        ...

    async def aclose(self) -> None:
        """Stop: every subscription ends, publish raises :class:`BrokerUnavailable`."""
        ...

    @property
    def healthy(self) -> bool:
        """Whether events flow now (for readiness)."""
        ...

    async def wait_ready(self) -> None:
        """Return once events flow (bound it with ``asyncio.timeout``); raises :class:`BrokerUnavailable` if closed."""
        ...


class _SeenIds:
    """Event ids published within ``ttl`` seconds, at most ``max_ids`` of them (the oldest go first)."""

    def __init__(self, ttl: float, max_ids: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._max = max_ids
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # insertion order is expiry order

    def add(self, event_id: str) -> bool:
        """True the first time ``event_id`` is seen within the TTL."""
        now = self._clock()
        while self._expiry:
            oldest, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[oldest]
        if event_id in self._expiry:
            return False
        self._expiry[event_id] = now + self._ttl
        if len(self._expiry) > self._max:
            self._expiry.popitem(last=False)
        return True


def _now_micros() -> int:
    return time.time_ns() // 1000


class _LocalSubscribers:
    """What both brokers share: this instance's subscribers, reached through a `_FanOut`.

    A Redis broker's subscriber that subscribes while the connection is down is marked lost
    when it is back (see `RedisBroker._connected`), so subscribing never waits on Redis.
    """

    _fanout: _FanOut
    _closed: bool

    def subscribe(self, room: str | None, *, watch: bool = True) -> LocalSubscription:
        if self._closed:
            return self._fanout.closed_subscription(room)
        return self._fanout.subscribe(room, watch=watch)

    def rooms_with_subscribers(self) -> set[str] | None:
        return self._fanout.rooms()

    def listen(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        return self._fanout.listen(listener)


class InProcessBroker(_LocalSubscribers, Broker):
    """The broker of a single instance: publish delivers at once, to this process's subscribers only."""

    def __init__(
        self,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        sequence_ttl: float = DEFAULT_SEQUENCE_TTL,
        max_dedupe_ids: int = 100_000,
        max_rooms: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fanout = _FanOut(queue_size)
        self._seen = _SeenIds(dedupe_ttl, max_dedupe_ids, clock)
        self._clock = clock
        self._sequence_ttl = sequence_ttl
        self._max_rooms = max_rooms
        # room -> (last sequence, when last used); least recently used first
        self._sequences: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._closed = False

    @property
    def healthy(self) -> bool:
        return not self._closed

    async def wait_ready(self) -> None:
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")

    def _next_sequence(self, room: str) -> int:
        now = self._clock()
        while self._sequences:
            oldest, (_, used) = next(iter(self._sequences.items()))
            if now - used < self._sequence_ttl and len(self._sequences) < self._max_rooms:
                break
            del self._sequences[oldest]
        last = self._sequences.pop(room, None)
        sequence = last[0] + 1 if last is not None else _now_micros()
        self._sequences[room] = (sequence, now)
        return sequence

    async def publish(self, event: RoomEvent) -> RoomEvent | None:
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")
        if not self._seen.add(event.id):
            EVENTS_DEDUPLICATED.inc()
            return None
        sequenced = replace(event, sequence=self._next_sequence(event.room))
        EVENTS_PUBLISHED.labels(event.source).inc()
        self._fanout.deliver(sequenced)
        return sequenced

    async def aclose(self) -> None:
        self._closed = True
        self._fanout.close_all()


# Dedupe, sequence and publish in one step. KEYS: seen key, sequence key. ARGV: dedupe TTL (ms), sequence
# TTL (s), channel, wire head, wire tail. Returns 0 for a duplicate, else the sequence number. A new counter
# starts at Redis's clock in microseconds (built as a string: Lua's tostring() would round a number this
# large to 14 digits), so it is above anything the room had before its counter was lost.
