"""The Redis broker against a real redis-server: two brokers on one Redis are two service instances.

Nothing is mocked. Tests that kill, restart or freeze Redis get a server of their own; the others share one
per module and keep apart by key prefix. The figures the fault tests measure (how long until subscribers
are told, how long publishing takes during an outage, how long until events flow again) are written to the
terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from livekit.protocol import models
from prometheus_client import REGISTRY

from graphql_api.core.events import BrokerUnavailable, LocalSubscription, RedisBroker, RoomEvent
from tests.harness.redis_server import RedisServer
from tests.harness.reporting import report

pytestmark = pytest.mark.integration

TIMEOUT = 0.5  # the brokers' per-call timeout in these tests
PING_INTERVAL = 0.5
RESYNC_ALLOWED = 5.0  # Redis back -> subscribers on the other instance receive again
FAST = 0.3  # publishing while Redis is down (connection refused) must fail at least this fast
OUTAGE = 3.0


def write_summary(request: pytest.FixtureRequest, title: str, lines: list[str]) -> None:
    report(request.config, title, lines)


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis only this test uses: it kills, restarts or freezes it."""
    with RedisServer(workdir=tmp_path / "redis") as server:
        yield server


def open_pair(url: str, **options: Any) -> tuple[RedisBroker, RedisBroker]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    options = {"prefix": prefix, "timeout": TIMEOUT, "ping_interval": PING_INTERVAL, **options}
    return RedisBroker(url, **options), RedisBroker(url, **options)


@pytest.fixture
async def pair(shared_redis: RedisServer) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    a, b = open_pair(shared_redis.url)
    try:
        await ready(a, b)
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def ready(*brokers: RedisBroker, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        for broker in brokers:
            await broker.wait_ready()


def participant(identity: str, version: int = 1) -> models.ParticipantInfo:
    return models.ParticipantInfo(
        sid=f"PA_{identity}",
        identity=identity,
        name=f"参与者 {identity} 🎤",
        version=version,
        joined_at_ms=1_732_845_123_456,
        attributes={"座位": identity},
        permission=models.ParticipantPermission(can_publish=True, can_subscribe=True),
        tracks=[models.TrackInfo(sid=f"TR_{identity}", type=models.TrackType.AUDIO, muted=version % 2 == 0)],
    )


def event(room: str, id: str | None = None, *, kind: Any = "participant_updated", who: str = "u1") -> RoomEvent:
    return RoomEvent(
        kind=kind,
        room=room,
        id=id or uuid.uuid4().hex,
        at=time.time(),
        source="api",
        actor="admin",
        participant=participant(who),
    )


async def next_event(subscription: LocalSubscription, within: float = 3.0) -> RoomEvent | None:
    """The next event, skipping lost-wakeups; None if none comes within ``within`` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                got = await subscription.get()
                if got is not None:
                    return got
                if subscription.closed:
                    return None
    return None


async def until(subscription: LocalSubscription, sentinel: str, within: float = 3.0) -> list[RoomEvent]:
    """Every event up to the one with id ``sentinel`` (not included); fails if it does not come."""
    out: list[RoomEvent] = []
    deadline = time.monotonic() + within
    while True:
        got = await next_event(subscription, max(0.0, deadline - time.monotonic()))
        assert got is not None, f"event {sentinel} did not arrive within {within}s; got {[e.id for e in out]}"
        if got.id == sentinel:
            return out
        out.append(got)


async def wait_for_state(check: Callable[[], bool], within: float, step: float = 0.01) -> float:
    """Seconds until ``check()`` is true; fails after ``within``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not so within {within}s"
        await asyncio.sleep(step)
    return time.monotonic() - started


# -- two instances ------------------------------------------------------------------------------------


async def test_an_event_published_on_one_instance_reaches_subscribers_on_both(
    pair: tuple[RedisBroker, RedisBroker],
) -> None:
    a, b = pair
    on_b = b.subscribe("room-1")
    everything_on_a = a.subscribe(None)
    other_room_on_b = b.subscribe("room-2")
    assert b.rooms_with_subscribers() == {"room-1", "room-2"}
    assert a.rooms_with_subscribers() is None

    sent = await a.publish(event("room-1", "EV_1"))
    assert sent is not None
    assert sent.sequence > 0
    got = await next_event(on_b)
    assert got == sent  # protobuf fields and unicode intact across instances
    assert got is not None
    assert got.participant is not None
    assert got.participant.attributes["座位"] == "u1"
    assert await next_event(everything_on_a) == sent

    # Room filtering: room-2's subscriber sees only room-2.
    other = await b.publish(event("room-2", "EV_2"))
    assert await next_event(other_room_on_b) == other
    assert await next_event(on_b, within=0.3) is None
    assert [e.id for e in await until(everything_on_a, "EV_2")] == []
    for subscription in (on_b, everything_on_a, other_room_on_b):
        assert not subscription.lost


async def test_sequences_are_shared_and_monotonic_across_instances(pair: tuple[RedisBroker, RedisBroker]) -> None:
    a, b = pair
    on_a, on_b = a.subscribe("r"), b.subscribe("r")
    # Both instances publish to one room at once.
    results = await asyncio.gather(*((a if i % 2 else b).publish(event("r", f"e{i}")) for i in range(60)))
    sequences = sorted(sent.sequence for sent in results if sent is not None)
    assert len(sequences) == 60
    assert sequences == list(range(sequences[0], sequences[0] + 60))  # one shared counter, no gaps

    await a.publish(event("r", "end"))
    seen_a, seen_b = await until(on_a, "end"), await until(on_b, "end")
    assert [e.sequence for e in seen_a] == sequences  # delivered in sequence order
    assert [e.id for e in seen_a] == [e.id for e in seen_b]  # the same order on every instance
    assert seen_a == seen_b

    # Another room has a counter of its own.
    first_elsewhere = await b.publish(event("elsewhere", "x1"))
    second_elsewhere = await a.publish(event("elsewhere", "x2"))
    assert first_elsewhere is not None
    assert second_elsewhere is not None
    assert second_elsewhere.sequence == first_elsewhere.sequence + 1


async def test_a_duplicate_id_is_delivered_once_whichever_instances_publish_it(
    pair: tuple[RedisBroker, RedisBroker],
) -> None:
    a, b = pair
    on_a, on_b = a.subscribe("r"), b.subscribe("r")
    ids = [f"EV_dup_{i}" for i in range(20)]
    for id in ids:
        # The same webhook delivered to both instances at once, then retried on one of them.
        first, second = await asyncio.gather(a.publish(event("r", id)), b.publish(event("r", id)))
        assert (first is None) != (second is None), f"{id} published {'twice' if first else 'never'}"
        assert await a.publish(event("r", id)) is None
    await b.publish(event("r", "end"))
    for subscription in (on_a, on_b):
        assert [e.id for e in await until(subscription, "end")] == ids


async def test_a_burst_beyond_the_connection_pool_waits_its_turn(shared_redis: RedisServer) -> None:
    # Each call's deadline includes its wait for a pooled connection; a few times the usual one, so a
    # loaded machine does not turn waiting its turn into a timeout (what is tested is that it waits).
    burst_timeout = 4 * TIMEOUT
    a, b = open_pair(shared_redis.url, max_connections=4, queue_size=1000, timeout=burst_timeout)
    try:
        await ready(a, b)
        on_b = b.subscribe(None)
        started = time.monotonic()
        results = await asyncio.gather(*(a.publish(event(f"room-{i % 7}", f"burst-{i}")) for i in range(400)))
        took = time.monotonic() - started
        assert all(sent is not None for sent in results)
        assert took < 2 * burst_timeout
        await a.publish(event("room-0", "end"))
        seen = await until(on_b, "end")
        assert sorted(e.id for e in seen) == sorted(f"burst-{i}" for i in range(400))
        for room in {e.room for e in seen}:
            sequences = [e.sequence for e in seen if e.room == room]
            assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
        assert not on_b.lost
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_malformed_message_on_the_channel_is_skipped(
    pair: tuple[RedisBroker, RedisBroker], shared_redis: RedisServer
) -> None:
    a, b = pair
    on_b = b.subscribe(None)
    raw = aioredis.Redis.from_url(shared_redis.url, protocol=2)
    try:
        await raw.publish(f"{b._prefix}:events", b"\xff not an event")
        await raw.publish(f"{b._prefix}:events", b'{"v":1,"kind":"participant_joined"}')
    finally:
        await raw.aclose()
    sent = await a.publish(event("r", "after-garbage"))
    assert await next_event(on_b) == sent
    assert b.healthy
    assert not on_b.lost


# -- faults ---------------------------------------------------------------------------------------------


async def test_redis_restart_mid_stream(own_redis: RedisServer, request: pytest.FixtureRequest) -> None:
    a, b = open_pair(own_redis.url)
    try:
        await ready(a, b)
        on_b = b.subscribe("r")
        everything_on_a = a.subscribe(None)
        before = [await a.publish(event("r", f"before-{i}")) for i in range(5)]
        assert [await next_event(on_b) for _ in range(5)] == before
        last_before = max(sent.sequence for sent in before if sent is not None)

        # A consumer idle in get() is woken when the connection breaks, so it can resync at once.
        idle = asyncio.create_task(on_b.get())
        await asyncio.sleep(0.05)
        own_redis.kill()
        killed = time.monotonic()
        assert await asyncio.wait_for(idle, 3.0) is None
        told = time.monotonic() - killed
        assert on_b.lost
        await wait_for_state(lambda: everything_on_a.lost, 3.0)
        await wait_for_state(lambda: not a.healthy and not b.healthy, 3.0)

        # Publishing during the outage fails, and fast.
        outage_calls: list[float] = []
        for i in range(10):
            broker = (a, b)[i % 2]
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable):
                await broker.publish(event("r", f"during-{i}"))
            outage_calls.append(time.monotonic() - started)
        assert max(outage_calls) < FAST, outage_calls

        # A consumer that resynced during the outage, and one that subscribed during it, must both be told
        # again once the connection is back: what was published while B was not subscribed is gone.
        assert on_b.reset_lost()
        late = b.subscribe("r")
        await asyncio.sleep(OUTAGE)  # long enough for the reconnect backoff to reach its cap

        own_redis.restart(wait=False)
        await asyncio.to_thread(own_redis.wait_ready)
        back = time.monotonic()
        a_subscribed = asyncio.create_task(wait_for_state(lambda: a.healthy, RESYNC_ALLOWED, step=0.005))
        b_subscribed = asyncio.create_task(wait_for_state(lambda: b.healthy, RESYNC_ALLOWED, step=0.005))
        received: RoomEvent | None = None
        failed_publishes = 0
        attempt = 0
        while received is None:
            assert time.monotonic() - back < RESYNC_ALLOWED, f"nothing reached B within {RESYNC_ALLOWED}s"
            attempt += 1
            try:
                sent = await a.publish(event("r", f"after-{attempt}"))
            except BrokerUnavailable:
                failed_publishes += 1
                await asyncio.sleep(0.02)
                continue
            assert sent is not None
            received = await next_event(on_b, within=0.1)
        resync = time.monotonic() - back
        b_healthy = await b_subscribed

        assert on_b.lost
        assert late.lost
        assert received.id.startswith("after-")
        # Redis came back empty (no persistence), and still the sequence did not go back.
        assert received.sequence > last_before
        # Streaming goes on, on the same subscriptions, in order.
        on_b.reset_lost()
        after = [await b.publish(event("r", f"more-{i}")) for i in range(5)]
        await a.publish(event("r", "end"))
        rest = await until(on_b, "end")
        assert [e.id for e in rest][-5:] == [f"more-{i}" for i in range(5)]
        assert [e.sequence for e in rest] == sorted(e.sequence for e in rest)
        assert after[-1] == rest[-1]
        assert not on_b.lost
        assert [e.id for e in await until(late, "end")][-5:] == [f"more-{i}" for i in range(5)]
        # Instance A reconnects on its own schedule (its publishes do not depend on it); then it delivers too.
        a_healthy = await a_subscribed
        assert everything_on_a.lost
        everything_on_a.reset_lost()
        await b.publish(event("r", "end-a"))
        seen_on_a = await until(everything_on_a, "end-a")
        assert [e.id for e in seen_on_a[:5]] == [f"before-{i}" for i in range(5)]  # delivered before the kill
        assert not [e.id for e in seen_on_a if e.id.startswith("during-")]
        assert [e.sequence for e in seen_on_a] == sorted(e.sequence for e in seen_on_a)
        assert a.reconnects == 1
        assert b.reconnects == 1

        write_summary(
            request,
            f"event broker: Redis killed, down {OUTAGE:.0f} s, restarted empty on the same port",
            [
                f"idle subscriber woken (lost) after the kill: {told * 1000:.0f} ms",
                f"publish while Redis is down: BrokerUnavailable in at most {max(outage_calls) * 1000:.1f} ms",
                f"Redis answering -> subscribed again: instance A {a_healthy:.2f} s, instance B {b_healthy:.2f} s",
                f"Redis answering -> first event received on instance B (resync): {resync:.2f} s "
                f"({failed_publishes} publishes refused meanwhile, {attempt} attempts)",
                f"sequence before the restart {last_before}, after {received.sequence}",
            ],
        )
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_frozen_redis_never_hangs_anyone(own_redis: RedisServer, request: pytest.FixtureRequest) -> None:
    a, b = open_pair(own_redis.url)
    try:
        await ready(a, b)
        on_b = b.subscribe("r")
        sent = await a.publish(event("r", "before"))
        assert await next_event(on_b) == sent

        own_redis.pause()  # accepts connections, answers nothing
        frozen = time.monotonic()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable, match="in time"):
            await a.publish(event("r", "frozen"))
        publish_took = time.monotonic() - started
        assert publish_took < TIMEOUT + 0.3
        # The silent pub/sub connection is pinged, then given up on; subscribers are told.
        await wait_for_state(lambda: not b.healthy, PING_INTERVAL * 2 + TIMEOUT + 1.0)
        await wait_for_state(lambda: on_b.lost, 1.0)
        noticed = time.monotonic() - frozen

        own_redis.resume()
        resumed = time.monotonic()
        recovered = await wait_for_state(lambda: a.healthy and b.healthy, RESYNC_ALLOWED)
        on_b.reset_lost()
        again = await a.publish(event("r", "after"))
        assert again is not None
        # The publish that timed out may still have run once Redis woke up (never twice): only "after" counts.
        assert [e.id for e in await until(on_b, "after")] in ([], ["frozen"])
        write_summary(
            request,
            "event broker: Redis frozen (SIGSTOP), then resumed",
            [
                f"publish to the frozen Redis: BrokerUnavailable after {publish_took:.2f} s (timeout {TIMEOUT} s)",
                f"frozen -> instance B unhealthy, subscribers lost: {noticed:.2f} s",
                f"resumed -> both instances healthy again: {recovered:.2f} s",
                f"frozen for {resumed - frozen:.2f} s in all",
            ],
        )
    finally:
        await a.aclose()
        await b.aclose()


# -- metrics ------------------------------------------------------------------------------------


@contextmanager
def moved(name: str, **labels: str) -> Iterator[list[float]]:
    """How far a series of this process moved while the block ran."""
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    delta: list[float] = []
    yield delta
    delta.append((REGISTRY.get_sample_value(name, labels) or 0.0) - before)


async def test_publishes_are_timed_and_events_counted(pair: tuple[RedisBroker, RedisBroker]) -> None:
    a, b = pair
    on_b = b.subscribe("metered")
    with (
        moved("gxrtc_redis_call_duration_seconds_count", operation="publish") as timed,
        moved("gxrtc_events_published_total", source="api") as published,
        moved("gxrtc_events_deduplicated_total") as deduplicated,
        moved("gxrtc_events_delivered_total") as delivered,
    ):
        sent = await a.publish(event("metered", "once"))
        assert await a.publish(event("metered", "once")) is None
        assert await next_event(on_b) == sent
    assert (timed, published, deduplicated, delivered) == ([2.0], [1.0], [1.0], [1.0])
    await on_b.aclose()


async def test_a_publish_redis_refuses_is_counted_as_an_error(own_redis: RedisServer) -> None:
    a, b = open_pair(own_redis.url)
    try:
        await ready(a, b)
        own_redis.kill()
        with moved("gxrtc_redis_errors_total", operation="publish") as errors, pytest.raises(BrokerUnavailable):
            await a.publish(event("metered", "refused"))
        assert errors == [1.0]
    finally:
        await a.aclose()
        await b.aclose()
