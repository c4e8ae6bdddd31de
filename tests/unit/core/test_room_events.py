"""The room-event subscription over the fake LiveKit: snapshot first, and a credential's expiry ends it."""

from __future__ import annotations

import asyncio
import time

import pytest

from graphql_api.core import room_events
from graphql_api.core.auth import Principal, Role
from graphql_api.core.services import Core
from graphql_api.errors import Unauthenticated


async def test_the_stream_ends_when_the_credential_expires(core: Core) -> None:
    principal = Principal(uid="root", roles=frozenset({Role.ADMIN}), expires_at=time.time() + 0.3)
    stream = room_events.room_events(core, principal, "ours")
    assert (await anext(stream)).kind == "snapshot"
    with pytest.raises(Unauthenticated, match="expired"):
        await asyncio.wait_for(anext(stream), 5)


async def test_a_credential_that_does_not_expire_keeps_the_stream_open(core: Core) -> None:
    principal = Principal(uid="root", roles=frozenset({Role.ADMIN}))
    stream = room_events.room_events(core, principal, "ours")
    assert (await anext(stream)).kind == "snapshot"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.5)
    await stream.aclose()
