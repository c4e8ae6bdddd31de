"""A subscriber's side of a broker: a bounded queue per subscriber, told when it lost events."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from ..metrics import EVENTS_DELIVERED, EVENTS_DROPPED
from .model import RoomEvent


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
            EVENTS_DROPPED.inc()
            self._mark_lost()
        self._queue.append(event)
        EVENTS_DELIVERED.inc()
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
