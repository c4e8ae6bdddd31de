"""Room events, and the broker that fans them out to subscribers, on one instance or across all of them.

Why this exists: LiveKit tells exactly one instance about a change (the one its webhook reached), and
changes made through this API happen on whichever instance took the request; a GraphQL subscriber may
be connected to any other. The broker carries each :class:`RoomEvent` to every subscriber of its room on
every instance, once, in one order:

* **Order.** ``publish`` gives each event the next number of its room's sequence (``sequence``), which
  all instances share. With Redis, taking the number and publishing the event are one Lua script, so
  Redis delivers a room's events to every instance in sequence order.
* **Once.** An event id seen within ``dedupe_ttl`` seconds is dropped (``publish`` returns None): LiveKit
  retries webhooks, and several instances may notice the same change.
* **Never going backwards.** A room's sequence starts at the current time in microseconds, not at 1, so
  it stays monotonic when its counter is forgotten: after ``sequence_ttl`` of silence, after a Redis
  restart without persistence, or when an in-process broker's instance is replaced. It stays below
  2**53, so JavaScript clients read it exactly (it needs a 64-bit integer type in GraphQL, not ``Int``).
* **Bounded.** Each subscriber has a queue of ``queue_size`` events. A slow subscriber loses its oldest
  events, never blocks a publisher, never holds more memory; it is told by :attr:`Subscription.lost`,
  as are all subscribers of an instance whose Redis connection broke. A lost subscriber resyncs (a fresh
  snapshot from LiveKit) and keeps receiving; events are at-most-once, so the reconciler repairs the rest.
* **Bounded in time.** Every Redis call has a timeout (``timeout``, 1 s): publishing while Redis is down
  raises :class:`BrokerUnavailable` at once, and within the timeout when Redis hangs (such an event may
  still be published once Redis wakes up, never twice). A silent pub/sub connection is pinged every
  ``ping_interval`` and given up on when the PING goes unanswered. The Redis broker reconnects by itself,
  with jittered backoff of at most ``backoff_max`` (1 s), and delivers again as soon as it is subscribed.

Redis layout (``prefix`` defaults to ``gxrtc``): one channel, ``gxrtc:events``, for every room, which each
instance subscribes to on one connection and filters locally; ``gxrtc:seq:<room>`` holds a room's last
sequence number; ``gxrtc:seen:<event id>`` marks an id as published. One channel rather than one per room,
because :meth:`Broker.subscribe` must take effect when it returns (a SUBSCRIBE per room would leave a window
in which events are missed without anyone knowing), resubscribing after a reconnect is one command, and
room events (joins, leaves, mutes; never media) are few enough for every instance to read them all.
Needs Redis 5 or later (the script reads TIME before it writes); a single Redis or a primary, not Redis
Cluster (the script's keys would live in different slots).

Nothing here knows HTTP or GraphQL; the faces turn events into their own shapes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import random
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, Protocol, TypeVar, get_args

import redis.asyncio as aioredis
from google.protobuf.message import DecodeError, Message
from livekit.protocol import models
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from ..errors import ServiceUnavailable

__all__ = [
    "EVENT_KINDS",
    "EVENT_SOURCES",
    "Broker",
    "BrokerUnavailable",
    "EventKind",
    "EventSource",
    "InProcessBroker",
    "LocalSubscription",
    "RedisBroker",
    "RoomEvent",
    "Subscription",
    "open_broker",
]

log = logging.getLogger(__name__)

EventKind = Literal[
    "snapshot",
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_updated",
    "track_published",
    "track_unpublished",
    "track_muted",
    "track_unmuted",
    "permissions_changed",
]
EventSource = Literal["livekit", "api", "reconcile"]
EVENT_KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))
EVENT_SOURCES: Final[frozenset[str]] = frozenset(get_args(EventSource))

DEFAULT_QUEUE_SIZE: Final = 256
DEFAULT_DEDUPE_TTL: Final = 600.0  # LiveKit retries a webhook for a few minutes at most
DEFAULT_SEQUENCE_TTL: Final = 86400.0
DEFAULT_TIMEOUT: Final = 1.0
DEFAULT_PING_INTERVAL: Final = 1.0
DEFAULT_BACKOFF_MAX: Final = 1.0  # at most this long between reconnect attempts: worst-case resync

_WIRE_VERSION: Final = 1
_MessageT = TypeVar("_MessageT", bound=Message)


class BrokerUnavailable(ServiceUnavailable):
    """Events cannot be published now (Redis is unreachable or did not answer in time, or the broker is closed)."""

    def __init__(self, message: str = "the event broker cannot be reached, try again shortly") -> None:
        super().__init__(message, reason="event broker unavailable", retry_after=1)


# -- the event ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """Something that happened in a room, as subscribers see it.

    Frozen, and one object is shared by every subscriber it is delivered to: do not mutate the
    protobuf messages it holds. Equal events compare equal field by field, protobuf messages included.
    """

    kind: EventKind
    room: str
    id: str  # LiveKit's webhook event id, or a uuid4 hex of ours; what de-duplication goes by
    at: float  # unix seconds when it happened (or was observed)
    source: EventSource
    actor: str | None = None  # who made the change through our API (principal uid); None for LiveKit's own
    participant: models.ParticipantInfo | None = None  # the participant as it is now
    track: models.TrackInfo | None = None
    participants: tuple[models.ParticipantInfo, ...] = ()  # for "snapshot": everyone in the room now
    sequence: int = 0  # per-room order, assigned by Broker.publish (0 before)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.source not in EVENT_SOURCES:
            raise ValueError(f"unknown event source {self.source!r}")
        if not isinstance(self.room, str) or not self.room:
            raise ValueError("an event needs a room name")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("an event needs an id")
        if isinstance(self.at, bool) or not isinstance(self.at, int | float) or not math.isfinite(self.at):
            raise ValueError(f"an event's time must be a finite number of seconds, not {self.at!r}")
        if isinstance(self.at, int):
            object.__setattr__(self, "at", float(self.at))
        if self.actor is not None and not isinstance(self.actor, str):
            raise ValueError("actor must be a string or None")
        if self.participant is not None and not isinstance(self.participant, models.ParticipantInfo):
            raise ValueError("participant must be a livekit ParticipantInfo")
        if self.track is not None and not isinstance(self.track, models.TrackInfo):
            raise ValueError("track must be a livekit TrackInfo")
        if not isinstance(self.participants, tuple) or not all(
            isinstance(p, models.ParticipantInfo) for p in self.participants
        ):
            raise ValueError("participants must be a tuple of livekit ParticipantInfo")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int) or self.sequence < 0:
            raise ValueError(f"sequence must be a non-negative integer, not {self.sequence!r}")

    def __hash__(self) -> int:
        # The generated hash would hash the protobuf messages, which are unhashable.
        return hash((self.room, self.id, self.sequence))

    # The wire form is compact JSON. Protobuf messages travel as base64 of their binary encoding, the only
    # form that round-trips exactly (unknown fields of a newer LiveKit included). "sequence" comes last, so
    # the Redis script can put the number it assigns between _wire_parts()'s two halves.

    def _wire_parts(self) -> tuple[str, str]:
        body: dict[str, Any] = {
            "v": _WIRE_VERSION,
            "kind": self.kind,
            "room": self.room,
            "id": self.id,
            "at": self.at,
            "source": self.source,
        }
        if self.actor is not None:
            body["actor"] = self.actor
        if self.participant is not None:
            body["participant"] = _encode_message(self.participant)
        if self.track is not None:
            body["track"] = _encode_message(self.track)
        if self.participants:
            body["participants"] = [_encode_message(p) for p in self.participants]
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text[:-1] + ',"sequence":', "}"

    def to_wire(self) -> bytes:
        """Compact JSON (UTF-8). Raises ValueError if a string is not valid Unicode (a lone surrogate)."""
        head, tail = self._wire_parts()
        return f"{head}{self.sequence}{tail}".encode()

    @classmethod
    def from_wire(cls, data: bytes | bytearray | memoryview | str) -> RoomEvent:
        """The event :meth:`to_wire` wrote. Raises ValueError for anything else."""
        try:
            text = data if isinstance(data, str) else bytes(data).decode()
            obj = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValueError(f"not a room event: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError("not a room event: not a JSON object")
        if obj.get("v") != _WIRE_VERSION:
            raise ValueError(f"not a room event of wire version {_WIRE_VERSION}: v={obj.get('v')!r}")
        actor = obj.get("actor")
        participant = obj.get("participant")
        track = obj.get("track")
        participants = obj.get("participants", [])
        if not isinstance(participants, list):
            raise ValueError("not a room event: participants is not a list")
        at = obj.get("at")
        sequence = obj.get("sequence")
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise ValueError("not a room event: at is not a number")
        if isinstance(sequence, bool) or not isinstance(sequence, int):
            raise ValueError("not a room event: sequence is not an integer")
        return cls(
            kind=_wire_str(obj, "kind"),  # type: ignore[arg-type]  # checked in __post_init__
            room=_wire_str(obj, "room"),
            id=_wire_str(obj, "id"),
            at=float(at),
            source=_wire_str(obj, "source"),  # type: ignore[arg-type]
            actor=None if actor is None else _wire_str(obj, "actor"),
            participant=None if participant is None else _decode_message(models.ParticipantInfo, participant),
            track=None if track is None else _decode_message(models.TrackInfo, track),
            participants=tuple(_decode_message(models.ParticipantInfo, p) for p in participants),
            sequence=sequence,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _wire_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"not a room event: {key} is not a string")
    return value


def _encode_message(message: Message) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


def _decode_message(kind: type[_MessageT], value: object) -> _MessageT:
    if not isinstance(value, str):
        raise ValueError(f"not a room event: a {kind.__name__} must be a base64 string")
    message = kind()
    try:
        message.ParseFromString(base64.b64decode(value, validate=True))
    except (ValueError, DecodeError, RecursionError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"not a room event: bad {kind.__name__}: {exc}") from None
    return message


# -- subscriptions --------------------------------------------------------------------------------


class Subscription(Protocol):
    """The events of one room (or of every room), in sequence order, as an async iterator.

    ``lost`` turns True when events meant for this subscriber were dropped: it read too slowly and its
    queue overflowed, or the broker's connection to Redis broke (whatever was published meanwhile is
    gone). It stays True until :meth:`reset_lost`; then the subscriber resyncs (takes a fresh snapshot)
    and carries on with the same subscription, which keeps delivering what comes next.
    """

    def __aiter__(self) -> AsyncIterator[RoomEvent]: ...

    async def aclose(self) -> None: ...

    @property
    def lost(self) -> bool: ...

    def reset_lost(self) -> bool:
        """Clear :attr:`lost` and return what it was: call it, and resync when it returns True."""
        ...

    async def get(self) -> RoomEvent | None:
        """The next event; None when the subscription is closed, or as soon as it became lost.

        Unlike ``async for``, which waits for the next event however long that takes, this wakes an idle
        consumer when it must resync (check :meth:`reset_lost` after every call). Bound the wait with
        ``asyncio.timeout``: cancelling it loses nothing.
        """
        ...

    @property
    def closed(self) -> bool: ...


class LocalSubscription:
    """A bounded queue on this instance, fed by a broker. One consumer task at a time.

    The broker holds it weakly: a subscription dropped without :meth:`aclose` goes away by itself.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_detach",
        "_dropped",
        "_lost",
        "_lost_signal",
        "_queue",
        "_waiter",
        "room",
        "watching",
    )

    def __init__(self, room: str | None, queue_size: int, detach: Callable[[LocalSubscription], None]) -> None:
        self.room = room
        self.watching = True
        self._queue: deque[RoomEvent] = deque(maxlen=queue_size)
        self._detach = detach
        self._closed = False
        self._lost = False
        self._lost_signal = False
        self._dropped = 0
        self._waiter: asyncio.Future[None] | None = None

    @property
    def lost(self) -> bool:
        return self._lost

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped(self) -> int:
        """How many events this subscriber lost to a full queue, ever."""
        return self._dropped

    @property
    def pending(self) -> int:
        return len(self._queue)

    def reset_lost(self) -> bool:
        lost, self._lost, self._lost_signal = self._lost, False, False
        return lost

    def __aiter__(self) -> LocalSubscription:
        return self

    async def __anext__(self) -> RoomEvent:
        while True:
            event = await self.get()
            if event is not None:
                return event
            if self._closed:
                raise StopAsyncIteration

    async def get(self) -> RoomEvent | None:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                return None
            if self._lost_signal:
                self._lost_signal = False
                return None
            if self._waiter is not None:
                raise RuntimeError("another task is already waiting on this subscription")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        if not self._closed:
            self._close()
            self._detach(self)

    # -- called by the broker ------------------------------------------------------------

    def _deliver(self, event: RoomEvent) -> None:
        if self._closed:
            return
        if len(self._queue) == self._queue.maxlen:
            self._dropped += 1  # the deque drops its oldest on append
            self._mark_lost()
        self._queue.append(event)
        self._wake()

    def _mark_lost(self) -> None:
        self._lost = True
        self._lost_signal = True
        self._wake()

    def _close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _FanOut:
    """This instance's subscribers, by room, and delivery to them."""

    def __init__(self, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._by_room: dict[str, weakref.WeakSet[LocalSubscription]] = {}
        self._every_room: weakref.WeakSet[LocalSubscription] = weakref.WeakSet()
        self._listeners: list[Callable[[str | None], None]] = []

    def listen(self, listener: Callable[[str | None], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def subscribe(self, room: str | None, *, watch: bool = True) -> LocalSubscription:
        subscription = LocalSubscription(room, self._queue_size, self._detach)
        subscription.watching = watch
        if room is None:
            self._every_room.add(subscription)
        else:
            self._by_room.setdefault(room, weakref.WeakSet()).add(subscription)
        return subscription

    def closed_subscription(self, room: str | None) -> LocalSubscription:
        subscription = LocalSubscription(room, 1, lambda _: None)
        subscription._close()
        return subscription

    def _detach(self, subscription: LocalSubscription) -> None:
        if subscription.room is None:
            self._every_room.discard(subscription)
            return
        subscribers = self._by_room.get(subscription.room)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._by_room[subscription.room]

    def deliver(self, event: RoomEvent) -> None:
        for listener in self._listeners:
            listener(event.room)
        for subscription in tuple(self._by_room.get(event.room, ())):
            subscription._deliver(event)
        for subscription in tuple(self._every_room):
            subscription._deliver(event)

    def all(self) -> list[LocalSubscription]:
        subscriptions = list(self._every_room)
        for subscribers in self._by_room.values():
            subscriptions.extend(subscribers)
        return subscriptions

    def mark_all_lost(self) -> int:
        for listener in self._listeners:
            listener(None)
        subscriptions = self.all()
        for subscription in subscriptions:
            subscription._mark_lost()
        return len(subscriptions)

    def rooms(self) -> set[str] | None:
        if any(subscription.watching for subscription in self._every_room):
            return None
        for room in [room for room, subscribers in self._by_room.items() if not subscribers]:
            del self._by_room[room]  # subscribers dropped without aclose()
        return {room for room, subscribers in self._by_room.items() if any(s.watching for s in subscribers)}

    def close_all(self) -> None:
        for subscription in self.all():
            subscription._close()
        self._by_room.clear()
        self._every_room = weakref.WeakSet()


# -- brokers --------------------------------------------------------------------------------------


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
            return None
        sequenced = replace(event, sequence=self._next_sequence(event.room))
        self._fanout.deliver(sequenced)
        return sequenced

    async def aclose(self) -> None:
        self._closed = True
        self._fanout.close_all()


# Dedupe, sequence and publish in one step. KEYS: seen key, sequence key. ARGV: dedupe TTL (ms), sequence
# TTL (s), channel, wire head, wire tail. Returns 0 for a duplicate, else the sequence number. A new counter
# starts at Redis's clock in microseconds (built as a string: Lua's tostring() would round a number this
# large to 14 digits), so it is above anything the room had before its counter was lost.
_PUBLISH_SCRIPT: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
local seq
if redis.call('EXISTS', KEYS[2]) == 1 then
  seq = string.format('%d', redis.call('INCR', KEYS[2]))
else
  local now = redis.call('TIME')
  seq = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], seq)
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. seq .. ARGV[5])
return seq
"""


class RedisBroker(_LocalSubscribers, Broker):
    """Instances sharing one Redis: publish goes through Redis, and each instance delivers what it reads.

    One pub/sub connection per instance (not per subscriber) reads the one events channel; commands use a
    small pool. Construct it inside the running event loop: it starts its reader task at once.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gxrtc",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        sequence_ttl: float = DEFAULT_SEQUENCE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        max_connections: int = 32,
    ) -> None:
        loop = asyncio.get_running_loop()
        if timeout <= 0 or ping_interval <= 0 or backoff_max <= 0:
            raise ValueError("timeout, ping_interval and backoff_max must be positive")
        self._prefix = prefix
        self._channel = f"{prefix}:events"
        self._dedupe_ms = max(1, round(dedupe_ttl * 1000))
        self._sequence_s = max(1, math.ceil(sequence_ttl))
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._backoff_max = backoff_max
        # No retries inside redis-py: a silent reconnect of the pub/sub connection would hide lost events,
        # and a retry loop could outlast our timeout. RESP2 works with every Redis and proxy that has pub/sub.
        # A blocking pool: a burst of publishes beyond max_connections waits its turn (within the timeout).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"{prefix}-events",
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._publish_script = self._redis.register_script(_PUBLISH_SCRIPT)
        self._fanout = _FanOut(queue_size)
        self._healthy = False
        self._ready = asyncio.Event()
        self._closed = False
        self._ever_connected = False
        self._reconnects = 0
        self._reader = loop.create_task(self._read_forever(), name=f"{prefix}-events-reader")

    # -- Broker ----------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        return self._healthy and not self._closed

    @property
    def reconnects(self) -> int:
        """How many times the pub/sub connection was re-established after it broke."""
        return self._reconnects

    async def wait_ready(self) -> None:
        await self._ready.wait()
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")

    async def publish(self, event: RoomEvent) -> RoomEvent | None:
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")
        head, tail = event._wire_parts()
        keys = [f"{self._prefix}:seen:{event.id}", f"{self._prefix}:seq:{event.room}"]
        args: list[str | int] = [self._dedupe_ms, self._sequence_s, self._channel, head, tail]
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    result = await self._publish_script(keys=keys, args=args)
                except RedisConnectionError:
                    # Most likely a pooled connection from before a Redis restart; one fresh try. Safe: a
                    # script that did run the first time makes this one a duplicate.
                    result = await self._publish_script(keys=keys, args=args)
        except TimeoutError as exc:
            raise BrokerUnavailable("the event broker did not answer in time") from exc
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable() from exc
        sequence = int(result)
        if sequence == 0:
            return None
        return replace(event, sequence=sequence)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._healthy = False
        self._ready.set()  # wakes wait_ready(), which then raises
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._fanout.close_all()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await self._redis.aclose()

    # -- the reader ------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        down_since: float | None = None
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                async with asyncio.timeout(self._timeout * 2):
                    await pubsub.subscribe(self._channel)
                    while True:  # the confirmation; nothing is delivered before it
                        message = await pubsub.get_message(timeout=self._timeout)
                        if message is not None and message.get("type") == "subscribe":
                            break
                self._connected(down_since, loop.time())
                down_since, failures = None, 0
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, TimeoutError, a protocol surprise: reconnect
                if self._closed:
                    break
                self._ready.clear()
                if down_since is None:
                    down_since = loop.time()
                    marked = self._fanout.mark_all_lost()
                    log.warning(
                        "room events: %s Redis (%s: %s); %d subscribers here must resync; retrying",
                        "lost the connection to" if self._ever_connected else "cannot reach",
                        type(exc).__name__,
                        exc,
                        marked,
                    )
                else:
                    log.debug("room events: Redis still unreachable (%s: %s)", type(exc).__name__, exc)
                self._healthy = False
                failures += 1
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(self._timeout):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            # Exponential backoff with jitter: 50 ms, 100 ms, ... up to backoff_max.
            delay = min(self._backoff_max, 0.05 * 2 ** min(failures, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def _connected(self, down_since: float | None, now: float) -> None:
        # Whatever was published while this instance was not subscribed is gone: everyone who subscribed
        # before now resyncs (a no-op for those still lost; consumers who resynced during the outage
        # must do it again).
        marked = self._fanout.mark_all_lost()
        if down_since is not None:
            self._reconnects += 1
            log.warning(
                "room events: Redis connection back after %.1fs; %d subscribers here resync", now - down_since, marked
            )
        self._healthy = True
        self._ever_connected = True
        self._ready.set()

    async def _pump(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails (raises); a silent Redis is pinged, then given up on."""
        loop = asyncio.get_running_loop()
        ping_sent: float | None = None
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            now = loop.time()
            if message is None:
                connection = pubsub.connection
                if connection is None or not connection.is_connected:
                    # Never let redis-py reconnect this connection by itself: that would hide lost events.
                    raise RedisConnectionError("the pub/sub connection closed")
                if ping_sent is None:
                    await pubsub.ping()
                    ping_sent = now
                elif now - ping_sent > self._timeout:
                    raise TimeoutError(f"Redis did not answer a PING within {self._timeout}s")
                continue
            kind = message.get("type")
            if kind == "message":
                ping_sent = None  # it is talking
                try:
                    event = RoomEvent.from_wire(message["data"])
                except ValueError as exc:
                    log.warning("room events: ignoring a malformed message on %s: %s", self._channel, exc)
                    continue
                self._fanout.deliver(event)
            elif kind == "pong":
                ping_sent = None
            elif kind in ("unsubscribe", "punsubscribe"):
                raise RedisConnectionError(f"unsubscribed from {self._channel}")


def open_broker(
    redis_url: str | None,
    *,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
    sequence_ttl: float = DEFAULT_SEQUENCE_TTL,
    prefix: str = "gxrtc",
    timeout: float = DEFAULT_TIMEOUT,
) -> Broker:
    """A :class:`RedisBroker` when a URL is given, else an :class:`InProcessBroker`.

    Call it inside the running event loop (the app's lifespan). ``prefix`` and ``timeout`` matter to Redis only.
    """
    if redis_url:
        return RedisBroker(
            redis_url,
            prefix=prefix,
            queue_size=queue_size,
            dedupe_ttl=dedupe_ttl,
            sequence_ttl=sequence_ttl,
            timeout=timeout,
        )
    return InProcessBroker(queue_size=queue_size, dedupe_ttl=dedupe_ttl, sequence_ttl=sequence_ttl)
