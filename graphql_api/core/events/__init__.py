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

from .memory import Broker, InProcessBroker
from .model import EVENT_KINDS, EVENT_SOURCES, BrokerUnavailable, EventKind, EventSource, RoomEvent
from .redis_broker import RedisBroker, open_broker
from .subscription import LocalSubscription, Subscription

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
