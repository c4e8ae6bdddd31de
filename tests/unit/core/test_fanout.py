"""`rooms { participants }` fans out concurrently, within its bound.

The concurrency itself cannot be observed on a real LiveKit without timing, so
a stand-in LiveKit counts calls in flight; the operation's results are checked
against a real server in tests/integration/test_participants.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from livekit.protocol import models
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator
from graphql_api.core.cache import FlightCache
from graphql_api.core.events import InProcessBroker
from graphql_api.core.livekit import LiveKit
from graphql_api.core.minter import TokenMinter
from graphql_api.core.services import Core
from graphql_api.core.store import Store
from graphql_api.schema import schema
from graphql_api.schema.context import Context
from graphql_api.settings import Settings


class CountingLiveKit:
    def __init__(self, rooms: int) -> None:
        self.rooms = [models.Room(name=f"room-{i}", sid=f"RM_{i}", num_participants=2) for i in range(rooms)]
        self.in_flight = 0
        self.most_in_flight = 0
        self.calls: list[str] = []
        self.listings = 0

    async def list_rooms(self, names: list[str] | None = None) -> list[models.Room]:
        return [room for room in self.rooms if not names or room.name in names]

    async def list_rooms_by_key(self, names: tuple[str, ...] | None) -> list[models.Room]:
        self.listings += 1
        return await self.list_rooms(list(names) if names is not None else None)

    async def list_participants(self, room: str) -> list[models.ParticipantInfo]:
        self.calls.append(room)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return [models.ParticipantInfo(identity=f"{room}-p{i}") for i in range(2)]


def make_core(livekit: CountingLiveKit, limit: int, ttl: float = 0) -> Core:
    settings = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32))
    return Core(
        settings=settings,
        livekit=cast(LiveKit, livekit),
        minter=TokenMinter("key", "s" * 32, "ws://lk"),
        # Nothing configured: every caller is the open-access admin, as in dev.
        authenticator=Authenticator(settings),
        broker=InProcessBroker(),
        # Never opened: these overviews read no moderation state.
        store=Store.open("sqlite+aiosqlite://", timeout_seconds=1),
        participants=FlightCache(livekit.list_participants, ttl=ttl, concurrency=limit),
        room_lists=FlightCache(livekit.list_rooms_by_key, ttl=ttl, concurrency=1),
    )


async def test_rooms_with_participants_is_one_bounded_concurrent_round() -> None:
    livekit = CountingLiveKit(rooms=40)
    result = await schema.execute(
        "{ rooms { name participants { identity } } }", context_value=Context(core=make_core(livekit, limit=8))
    )
    assert result.errors is None
    data = cast(dict[str, Any], result.data)
    assert len(data["rooms"]) == 40
    assert data["rooms"][3]["participants"] == [{"identity": "room-3-p0"}, {"identity": "room-3-p1"}]
    # One call per room, never one room after another, never more than the bound at once.
    assert sorted(livekit.calls) == sorted(room.name for room in livekit.rooms)
    assert livekit.most_in_flight == 8


async def test_same_room_twice_in_one_request_is_loaded_once() -> None:
    livekit = CountingLiveKit(rooms=1)
    result = await schema.execute(
        "{ a: rooms { participants { identity } } b: rooms { participants { identity } } }",
        context_value=Context(core=make_core(livekit, limit=4)),
    )
    assert result.errors is None
    assert livekit.calls == ["room-0"]


async def test_an_overview_is_cached_until_a_room_event() -> None:
    livekit = CountingLiveKit(rooms=3)
    core = make_core(livekit, limit=4, ttl=60)
    query = "{ rooms { name participants { identity } } }"
    for _ in range(3):
        result = await schema.execute(query, context_value=Context(core=core))
        assert result.errors is None
    assert (livekit.listings, len(livekit.calls)) == (1, 3)
    # Without participants, rooms is read live.
    await schema.execute("{ rooms { name } }", context_value=Context(core=core))
    assert livekit.listings == 1
    core.forget("room-1")  # what an event for room-1 does: its participants and every listing go
    result = await schema.execute(query, context_value=Context(core=core))
    assert result.errors is None
    assert (livekit.listings, sorted(livekit.calls)) == (2, ["room-0", "room-1", "room-1", "room-2"])
