"""The in-process broker: order, sequences, de-duplication, bounded queues, subscriptions that end.

The Redis broker shares the subscription and fan-out code tested here; its own behaviour (two instances,
a Redis restart, a hung Redis) is tested against a real redis-server in tests/integration/test_broker_redis.py."""

from __future__ import annotations

import asyncio
import gc
import socket
import time

import pytest

from graphql_api.core.events import (
    BrokerUnavailable,
    InProcessBroker,
    LocalSubscription,
    RedisBroker,
    RoomEvent,
    open_broker,
)
from tests.unit.core.events.support import FakeClock, event

# -- the in-process broker ------------------------------------------------------------------------


async def drain(subscription: LocalSubscription) -> list[RoomEvent]:
    """What is queued now, without waiting."""
    out: list[RoomEvent] = []
    while subscription.pending:
        got = await subscription.get()
        assert got is not None
        out.append(got)
    return out


async def test_publish_orders_each_room_and_numbers_it_on_its_own() -> None:
    broker = InProcessBroker()
    room_a, room_b, every = broker.subscribe("a"), broker.subscribe("b"), broker.subscribe(None)
    before = time.time_ns() // 1000
    published = []
    for i in range(100):
        for room in ("a", "b"):
            sent = await broker.publish(event(room=room, id=f"{room}-{i}"))
            assert sent is not None
            published.append(sent)

    got_a, got_b, got_all = await drain(room_a), await drain(room_b), await drain(every)
    assert [e.id for e in got_a] == [f"a-{i}" for i in range(100)]
    assert [e.id for e in got_b] == [f"b-{i}" for i in range(100)]
    assert got_all == published
    for got in (got_a, got_b):
        sequences = [e.sequence for e in got]
        # Consecutive within a room, and starting from the clock in microseconds, not from 1.
        assert sequences == list(range(sequences[0], sequences[0] + 100))
        assert before <= sequences[0] <= time.time_ns() // 1000
    assert got_a[0] is published[0]  # what publish returns is what subscribers get
    assert not room_a.lost
    assert not every.lost
    await broker.aclose()


async def test_a_sequence_never_goes_back_even_when_its_counter_is_forgotten() -> None:
    clock = FakeClock()
    broker = InProcessBroker(sequence_ttl=60, clock=clock)
    first = await broker.publish(event(room="r", id="1"))
    second = await broker.publish(event(room="r", id="2"))
    assert first is not None
    assert second is not None
    assert second.sequence == first.sequence + 1
    clock.now += 61  # the room was silent longer than the TTL: its counter is dropped
    await asyncio.sleep(0.001)
    third = await broker.publish(event(room="r", id="3"))
    assert third is not None
    assert third.sequence > second.sequence + 1  # started again from the clock, above the old numbers
    # A brand-new broker (a restarted instance) does not go back either.
    fourth = await InProcessBroker().publish(event(room="r", id="4"))
    assert fourth is not None
    assert fourth.sequence > third.sequence


async def test_duplicate_ids_are_published_once_within_the_ttl() -> None:
    clock = FakeClock()
    broker = InProcessBroker(dedupe_ttl=600, clock=clock)
    subscription = broker.subscribe(None)
    first = await broker.publish(event(room="r", id="EV_1"))
    assert first is not None
    assert await broker.publish(event(room="r", id="EV_1")) is None
    assert await broker.publish(event(room="other", id="EV_1")) is None  # ids are global, not per room
    clock.now += 599
    assert await broker.publish(event(room="r", id="EV_1")) is None
    assert [e.id for e in await drain(subscription)] == ["EV_1"]

    clock.now += 2  # past the TTL: the id is forgotten
    again = await broker.publish(event(room="r", id="EV_1"))
    assert again is not None
    assert again.sequence == first.sequence + 1  # a duplicate took no number
    assert [e.id for e in await drain(subscription)] == ["EV_1"]


async def test_the_dedupe_memory_is_bounded() -> None:
    broker = InProcessBroker(max_dedupe_ids=3)
    for i in range(4):
        assert await broker.publish(event(id=f"id-{i}")) is not None
    assert await broker.publish(event(id="id-3")) is None
    assert await broker.publish(event(id="id-0")) is not None  # the oldest was forgotten to stay within 3


async def test_a_slow_subscriber_loses_its_oldest_events_and_blocks_nobody() -> None:
    broker = InProcessBroker(queue_size=8)
    slow = broker.subscribe("r")
    fast = broker.subscribe("r")
    received: list[RoomEvent] = []

    async def consume() -> None:
        async for got in fast:
            received.append(got)

    consumer = asyncio.create_task(consume())
    started = time.monotonic()
    published = []
    for i in range(1000):
        sent = await broker.publish(event(room="r", id=f"e{i}"))
        assert sent is not None
        published.append(sent)
        await asyncio.sleep(0)  # let the fast consumer run
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert slow.pending == 8  # bounded, whatever was published
    assert slow.dropped == 992
    assert slow.lost
    assert await drain(slow) == published[-8:]  # the newest stay, in order
    await asyncio.sleep(0)
    assert received == published
    assert not fast.lost
    assert fast.dropped == 0

    assert slow.reset_lost() is True
    assert slow.reset_lost() is False
    latest = await broker.publish(event(room="r", id="after"))
    assert await slow.get() == latest
    assert not slow.lost
    await broker.aclose()
    await consumer


async def test_get_wakes_an_idle_consumer_when_the_subscription_is_lost() -> None:
    broker = InProcessBroker()
    subscription = broker.subscribe("r")
    waiting = asyncio.create_task(subscription.get())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    subscription._mark_lost()  # what a broken Redis connection does
    assert await asyncio.wait_for(waiting, 1) is None
    assert subscription.reset_lost()
    sent = await broker.publish(event(room="r", id="next"))
    assert await asyncio.wait_for(subscription.get(), 1) == sent


async def test_a_cancelled_get_loses_nothing_and_one_consumer_at_a_time() -> None:
    broker = InProcessBroker()
    subscription = broker.subscribe("r")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await subscription.get()
    sent = await broker.publish(event(room="r", id="x"))
    assert await subscription.get() == sent

    first = asyncio.create_task(subscription.get())
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="already waiting"):
        await subscription.get()
    first.cancel()


async def test_aclose_ends_iteration_for_every_subscriber() -> None:
    broker = InProcessBroker()
    subscriptions = [broker.subscribe("r"), broker.subscribe(None), broker.subscribe("other")]
    seen: list[list[str]] = [[] for _ in subscriptions]

    async def iterate(subscription: LocalSubscription, into: list[str]) -> None:
        async for got in subscription:
            into.append(got.id)

    tasks = [asyncio.create_task(iterate(s, into)) for s, into in zip(subscriptions, seen, strict=True)]
    await broker.publish(event(room="r", id="one"))
    await asyncio.sleep(0.01)
    await broker.aclose()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert seen == [["one"], ["one"], []]
    assert all(s.closed for s in subscriptions)

    with pytest.raises(BrokerUnavailable):
        await broker.publish(event(room="r", id="two"))
    late = broker.subscribe("r")
    assert late.closed
    assert [e async for e in late] == []
    assert not broker.healthy
    with pytest.raises(BrokerUnavailable):
        await broker.wait_ready()


async def test_a_subscription_closed_by_its_consumer_ends_and_leaves() -> None:
    broker = InProcessBroker()
    keep = broker.subscribe("keep")
    leave = broker.subscribe("leave")
    assert broker.rooms_with_subscribers() == {"keep", "leave"}

    async def iterate() -> list[str]:
        return [got.id async for got in leave]

    task = asyncio.create_task(iterate())
    await broker.publish(event(room="leave", id="1"))
    await asyncio.sleep(0.01)
    await leave.aclose()
    assert await asyncio.wait_for(task, 1) == ["1"]
    assert broker.rooms_with_subscribers() == {"keep"}
    await broker.publish(event(room="keep", id="2"))
    assert keep.pending == 1


async def test_rooms_with_subscribers() -> None:
    broker = InProcessBroker()
    assert broker.rooms_with_subscribers() == set()
    one = broker.subscribe("a")
    broker.subscribe("b")  # dropped at once, never closed: the broker holds it weakly
    gc.collect()
    assert broker.rooms_with_subscribers() == {"a"}
    every = broker.subscribe(None)
    assert broker.rooms_with_subscribers() is None
    await every.aclose()
    assert broker.rooms_with_subscribers() == {"a"}
    await one.aclose()
    assert broker.rooms_with_subscribers() == set()


async def test_open_broker_picks_the_broker_by_url() -> None:
    local = open_broker(None)
    assert isinstance(local, InProcessBroker)
    assert local.healthy
    await local.wait_ready()
    await local.aclose()

    # A Redis nobody listens on: the broker opens, is not healthy, and publishing fails at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = open_broker(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    assert isinstance(remote, RedisBroker)
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await remote.publish(event(id="nowhere"))
        assert time.monotonic() - started < 1.0
        assert not remote.healthy
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await remote.wait_ready()
    finally:
        await remote.aclose()
