"""Room events on the wire, and the in-process broker: order, sequences, de-duplication, bounded queues.

The Redis broker shares the subscription and fan-out code tested here; its own behaviour (two instances,
a Redis restart, a hung Redis) is tested against a real redis-server in tests/integration/test_broker_redis.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import socket
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import models

from graphql_api.core.events import (
    BrokerUnavailable,
    InProcessBroker,
    LocalSubscription,
    RedisBroker,
    RoomEvent,
    open_broker,
)


def participant(identity: str = "xtqxk", *, version: int = 1, sid: str = "PA_1") -> models.ParticipantInfo:
    return models.ParticipantInfo(
        sid=sid,
        identity=identity,
        name="小明 🎧",
        state=models.ParticipantInfo.State.ACTIVE,
        metadata='{"角色": "主持人", "emoji": "🦊"}',
        joined_at=1_732_845_123,
        joined_at_ms=1_732_845_123_456,
        version=version,
        permission=models.ParticipantPermission(
            can_subscribe=True,
            can_publish=True,
            can_publish_sources=[models.TrackSource.MICROPHONE, models.TrackSource.CAMERA],
        ),
        attributes={"lang": "zh-CN", "座位": "3", "z": "last", "a": "first"},
        tracks=[
            models.TrackInfo(sid="TR_1", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE, muted=True)
        ],
        kind=models.ParticipantInfo.Kind.STANDARD,
    )


def track() -> models.TrackInfo:
    return models.TrackInfo(
        sid="TR_2",
        type=models.TrackType.VIDEO,
        source=models.TrackSource.CAMERA,
        width=1280,
        height=720,
        name="摄像头",
        layers=[models.VideoLayer(quality=models.VideoQuality.HIGH, width=1280, height=720, bitrate=2_500_000)],
    )


def event(kind: Any = "participant_joined", room: str = "room-1", id: str = "", **fields: Any) -> RoomEvent:
    fields.setdefault("at", 1_732_845_123.456789)
    fields.setdefault("source", "livekit")
    return RoomEvent(kind=kind, room=room, id=id or f"EV_{time.monotonic_ns()}", **fields)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the wire -----------------------------------------------------------------------------------


def test_wire_round_trip_is_exact_with_protobuf_fields_and_unicode() -> None:
    original = RoomEvent(
        kind="track_published",
        room="会议室-🚀-1",
        id="EV_ñandú",
        at=1_732_845_123.123456,
        source="api",
        actor="管理员",
        participant=participant(),
        track=track(),
        participants=(participant("甲", sid="PA_2"), participant("b", version=7, sid="PA_3")),
        sequence=1_732_845_123_456_789,
    )
    wire = original.to_wire()
    back = RoomEvent.from_wire(wire)

    assert back == original
    assert back.participant is not None
    assert original.participant is not None
    assert back.participant.SerializeToString(deterministic=True) == original.participant.SerializeToString(
        deterministic=True
    )
    assert back.participant.attributes["座位"] == "3"
    assert back.participant.joined_at_ms == 1_732_845_123_456
    assert back.track is not None
    assert back.track.layers[0].bitrate == 2_500_000
    assert [p.identity for p in back.participants] == ["甲", "b"]
    assert back.at == original.at
    assert back.sequence == original.sequence
    # Compact JSON in UTF-8, not \u escapes; the same bytes again when re-encoded.
    text = wire.decode()
    assert "会议室-🚀-1" in text
    assert "管理员" in text
    assert ", " not in text
    assert ": " not in text
    assert json.loads(text)["sequence"] == original.sequence
    assert back.to_wire() == wire
    assert RoomEvent.from_wire(text) == original
    assert RoomEvent.from_wire(bytearray(wire)) == original


def test_wire_keeps_protobuf_fields_this_version_does_not_know() -> None:
    # Field 999, varint 1: what a newer LiveKit might send. It must reach subscribers unchanged.
    raw = participant().SerializeToString() + b"\xb8\x3e\x01"
    newer = models.ParticipantInfo()
    newer.ParseFromString(raw)
    original = event(participant=newer)
    back = RoomEvent.from_wire(original.to_wire())
    assert back.participant is not None
    assert back.participant.SerializeToString().endswith(b"\xb8\x3e\x01")
    assert back == original


def test_wire_of_a_minimal_event_leaves_out_what_is_empty() -> None:
    original = RoomEvent(kind="room_finished", room="r", id="x", at=1.5, source="livekit")
    body = json.loads(original.to_wire())
    assert body == {
        "v": 1,
        "kind": "room_finished",
        "room": "r",
        "id": "x",
        "at": 1.5,
        "source": "livekit",
        "sequence": 0,
    }
    assert RoomEvent.from_wire(original.to_wire()) == original


def _valid_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(event(id="E1", participant=participant()).to_wire())
    return body


def _with(**changes: Any) -> bytes:
    body = _valid_body()
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body).encode()


GARBAGE: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"participant_joined room-1"),
    ("invalid utf-8", b'{"v":1,"kind":"\xff"}'),
    ("json array", b"[1, 2]"),
    ("json null", b"null"),
    ("json string", b'"snapshot"'),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000),
    ("no version", _with(v=...)),
    ("future version", _with(v=2)),
    ("unknown kind", _with(kind="room_exploded")),
    ("kind not a string", _with(kind=3)),
    ("unknown source", _with(source="carrier-pigeon")),
    ("no room", _with(room=...)),
    ("empty room", _with(room="")),
    ("empty id", _with(id="")),
    ("id not a string", _with(id=12)),
    ("at a string", _with(at="yesterday")),
    ("at a boolean", _with(at=True)),
    ("at NaN", _with(at="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"NaN")),
    ("at infinite", _with(at="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"1e999")),
    ("no sequence", _with(sequence=...)),
    ("negative sequence", _with(sequence=-1)),
    ("fractional sequence", _with(sequence=1.5)),
    ("actor not a string", _with(actor=["root"])),
    ("participant not base64", _with(participant="!!not base64!!")),
    ("participant not a protobuf", _with(participant=base64.b64encode(b"\xff\xff\xff\xff").decode())),
    ("participant a number", _with(participant=5)),
    ("track an object", _with(track={"sid": "TR_1"})),
    ("participants not a list", _with(participants="PA_1")),
    ("participants with a null", _with(participants=[None])),
]


@pytest.mark.parametrize(("case", "data"), GARBAGE, ids=[case for case, _ in GARBAGE])
def test_from_wire_refuses_garbage_with_value_error(case: str, data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        RoomEvent.from_wire(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_from_wire_raises_only_value_error_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        RoomEvent.from_wire(data)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_from_wire_raises_only_value_error_on_corrupted_events(position: int, byte: int) -> None:
    wire = bytearray(event(id="E1", participant=participant(), track=track()).to_wire())
    wire[position % len(wire)] = byte
    try:
        back = RoomEvent.from_wire(bytes(wire))
    except ValueError:
        return
    assert isinstance(back, RoomEvent)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "nope"},
        {"source": "elsewhere"},
        {"room": ""},
        {"id": ""},
        {"at": float("nan")},
        {"at": float("inf")},
        {"sequence": -1},
        {"participants": [participant()]},  # a list, not a tuple
        {"participant": track()},
    ],
)
def test_an_event_refuses_bad_fields(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {"kind": "room_started", "room": "r", "id": "x", "at": 1.0, "source": "api"}
    values.update(fields)
    with pytest.raises(ValueError, match=r"."):
        RoomEvent(**values)


def test_an_event_is_hashable_and_takes_integer_seconds() -> None:
    one = event(id="same", participant=participant(), at=1_700_000_000)
    assert isinstance(one.at, float)
    assert one.at == 1_700_000_000.0
    assert len({one, RoomEvent.from_wire(one.to_wire())}) == 1


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
