"""The participant cache behind `rooms { participants }`: freshness, single flight, invalidation, bounds.

A stand-in fetch counts calls and can be held open, and the clock is a
variable, so every rule is checked exactly; tests/integration/test_participant_cache.py
checks invalidation by real events from a real LiveKit.
"""

from __future__ import annotations

import asyncio

import pytest
from livekit.protocol import models

from graphql_api.core.cache import FlightCache
from graphql_api.core.events import InProcessBroker, RoomEvent

Participants = list[models.ParticipantInfo]


class Upstream:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.version = 0
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def fetch(self, room: str) -> list[models.ParticipantInfo]:
        self.calls.append(room)
        answer = [models.ParticipantInfo(identity=f"{room}-v{self.version}")]
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    """Let every task that can run, run (a fetch starts two hops after its request)."""
    for _ in range(5):
        await asyncio.sleep(0)


def identities(participants: list[models.ParticipantInfo]) -> list[str]:
    return [p.identity for p in participants]


def make(upstream: Upstream, clock: Clock, ttl: float = 1.0, **options: int) -> FlightCache[str, Participants]:
    return FlightCache(upstream.fetch, ttl=ttl, concurrency=options.pop("concurrency", 4), clock=clock, **options)


async def test_fresh_entries_answer_without_a_call_until_the_ttl_passes() -> None:
    upstream, clock = Upstream(), Clock()
    cache = make(upstream, clock)
    assert identities(await cache.get("r")) == ["r-v0"]
    upstream.version = 1
    clock.now += 0.999
    assert identities(await cache.get("r")) == ["r-v0"]
    assert upstream.calls == ["r"]
    clock.now += 0.001
    assert identities(await cache.get("r")) == ["r-v1"]
    assert upstream.calls == ["r", "r"]


async def test_concurrent_requests_share_one_call() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate = asyncio.Event()
    cache = make(upstream, clock)
    waiting = [asyncio.create_task(cache.get("r")) for _ in range(20)]
    await settle()
    upstream.gate.set()
    answers = await asyncio.gather(*waiting)
    assert upstream.calls == ["r"]
    assert all(identities(answer) == ["r-v0"] for answer in answers)


async def test_ttl_zero_keeps_nothing_but_still_shares_a_call_in_flight() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate = asyncio.Event()
    cache = make(upstream, clock, ttl=0)
    first, second = asyncio.create_task(cache.get("r")), asyncio.create_task(cache.get("r"))
    await settle()
    upstream.gate.set()
    await asyncio.gather(first, second)
    assert upstream.calls == ["r"]
    assert len(cache) == 0
    await cache.get("r")
    assert upstream.calls == ["r", "r"]


async def test_invalidating_a_room_refetches_it_and_only_it() -> None:
    upstream, clock = Upstream(), Clock()
    cache = make(upstream, clock)
    await cache.get_many(["a", "b"])
    upstream.version = 1
    cache.invalidate("a")
    assert [identities(p) for p in await cache.get_many(["a", "b"])] == [["a-v1"], ["b-v0"]]
    cache.invalidate(None)
    upstream.version = 2
    assert [identities(p) for p in await cache.get_many(["a", "b"])] == [["a-v2"], ["b-v2"]]
    assert sorted(upstream.calls) == ["a", "a", "a", "b", "b"]


async def test_a_fetch_overtaken_by_a_change_answers_its_waiters_but_is_not_kept() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate = asyncio.Event()
    cache = make(upstream, clock)
    before = asyncio.create_task(cache.get("r"))
    await settle()
    cache.invalidate("r")  # the room changed while LiveKit was answering
    upstream.version = 1
    after = asyncio.create_task(cache.get("r"))  # asked after the change: must not join the old call
    await settle()
    upstream.gate.set()
    assert identities(await before) == ["r-v0"]
    assert identities(await after) == ["r-v1"]
    assert identities(await cache.get("r")) == ["r-v1"]
    assert upstream.calls == ["r", "r"]


async def test_errors_reach_every_waiter_and_are_not_kept() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate, upstream.fail = asyncio.Event(), RuntimeError("LiveKit is down")
    cache = make(upstream, clock)
    waiting = [asyncio.create_task(cache.get("r")) for _ in range(3)]
    await settle()
    upstream.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    upstream.fail = None
    assert identities(await cache.get("r")) == ["r-v0"]
    assert upstream.calls == ["r", "r"]


async def test_a_waiter_that_gives_up_does_not_cancel_the_call_for_the_others() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate = asyncio.Event()
    cache = make(upstream, clock)
    leaving, staying = asyncio.create_task(cache.get("r")), asyncio.create_task(cache.get("r"))
    await settle()
    leaving.cancel()
    await settle()
    upstream.gate.set()
    assert identities(await staying) == ["r-v0"]
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert upstream.calls == ["r"]


async def test_calls_in_flight_are_bounded() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.gate = asyncio.Event()
    cache = make(upstream, clock, concurrency=3)
    waiting = asyncio.gather(*(cache.get(f"r{i}") for i in range(10)))
    for _ in range(5):
        await settle()
    assert len(upstream.calls) == 3
    upstream.gate.set()
    assert len(await waiting) == 10
    assert len(upstream.calls) == 10


async def test_memory_is_bounded_by_evicting_the_least_recently_used_room() -> None:
    upstream, clock = Upstream(), Clock()
    cache = make(upstream, clock, max_entries=2)
    await cache.get("a")
    await cache.get("b")
    await cache.get("a")  # a is now the most recently used
    await cache.get("c")  # evicts b
    assert len(cache) == 2
    upstream.calls.clear()
    await cache.get_many(["a", "b", "c"])
    assert upstream.calls == ["b"]


async def test_the_broker_drops_a_room_on_its_events_and_everything_when_events_may_be_lost() -> None:
    upstream, clock = Upstream(), Clock()
    cache = make(upstream, clock)
    broker = InProcessBroker()
    stop = broker.listen(cache.invalidate)
    await cache.get_many(["a", "b"])
    await broker.publish(RoomEvent(kind="participant_joined", room="a", id="e1", at=0.0, source="livekit"))
    upstream.calls.clear()
    await cache.get_many(["a", "b"])
    assert upstream.calls == ["a"]
    broker._fanout.mark_all_lost()  # what a Redis broker does when its connection breaks or comes back
    upstream.calls.clear()
    await cache.get_many(["a", "b"])
    assert sorted(upstream.calls) == ["a", "b"]
    stop()
    await broker.publish(RoomEvent(kind="participant_left", room="a", id="e2", at=0.0, source="livekit"))
    upstream.calls.clear()
    await cache.get("a")
    assert upstream.calls == []
