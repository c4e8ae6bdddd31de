"""The core over a fake LiveKit (graphql_api.core.fake_livekit): the operations' own logic, without a server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool

from graphql_api.core.auth import Authenticator, Principal, Role
from graphql_api.core.cache import FlightCache
from graphql_api.core.events import InProcessBroker
from graphql_api.core.fake_livekit import FakeRoomService, fake_livekit
from graphql_api.core.minter import TokenMinter
from graphql_api.core.services import Core
from graphql_api.core.store import Store, metadata
from graphql_api.settings import Settings
from tests.harness.redis_server import RedisServer

SECRET = "s" * 32
ADMIN = Principal(uid="root", roles=frozenset({Role.ADMIN}))
MODERATOR = Principal(uid="mod", roles=frozenset({Role.MODERATOR}), rooms=frozenset({"ours"}))
USER = Principal(uid="alice", roles=frozenset({Role.USER}))


@pytest.fixture
def service() -> FakeRoomService:
    return FakeRoomService()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    """A fresh in-memory SQLite store per test (one connection, so every transaction sees the same database)."""
    store = Store(create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool), timeout_seconds=3)
    async with store.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield store
    await store.aclose()


@pytest.fixture
def core(service: FakeRoomService, store: Store) -> Core:
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
        store=store,
        participants=FlightCache(livekit.list_participants, ttl=0, concurrency=4),
        room_lists=FlightCache(rooms_by_key, ttl=0, concurrency=1),
    )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on loopback (tests/harness/redis_server.py) for what Redis itself must decide:
    leases' compare-and-set, the shared brake's bucket. Each test keeps to keys of its own prefix."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
