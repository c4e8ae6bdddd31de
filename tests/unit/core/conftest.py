"""The core over a fake LiveKit (graphql_api.core.fake_livekit): the operations' own logic, without a server."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator, Principal, Role
from graphql_api.core.cache import FlightCache
from graphql_api.core.events import InProcessBroker
from graphql_api.core.fake_livekit import FakeRoomService, fake_livekit
from graphql_api.core.minter import TokenMinter
from graphql_api.core.services import Core
from graphql_api.settings import Settings

SECRET = "s" * 32
ADMIN = Principal(uid="root", roles=frozenset({Role.ADMIN}))
MODERATOR = Principal(uid="mod", roles=frozenset({Role.MODERATOR}), rooms=frozenset({"ours"}))
USER = Principal(uid="alice", roles=frozenset({Role.USER}))


@pytest.fixture
def service() -> FakeRoomService:
    return FakeRoomService()


@pytest.fixture
def core(service: FakeRoomService) -> Core:
    settings = Settings(livekit_api_key="key", livekit_api_secret=SecretStr(SECRET))
    livekit = fake_livekit(service)

    async def rooms_by_key(names: tuple[str, ...] | None) -> list:  # type: ignore[type-arg]
        return await livekit.list_rooms(list(names) if names is not None else None)

    return Core(
        settings=settings,
        livekit=livekit,
        minter=TokenMinter("key", SECRET, "ws://lk"),
        authenticator=Authenticator(settings),
        broker=InProcessBroker(),
        participants=FlightCache(livekit.list_participants, ttl=0, concurrency=4),
        room_lists=FlightCache(rooms_by_key, ttl=0, concurrency=1),
    )
