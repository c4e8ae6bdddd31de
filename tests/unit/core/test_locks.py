"""Room locks over the fake LiveKit and an in-memory store: policy, tokens refused and admitted, late joiners."""

from __future__ import annotations

import asyncio
import time

import pytest
from livekit.protocol import models

from graphql_api.core import locks, tokens
from graphql_api.core.admission import ADMITTED_AS
from graphql_api.core.enforcement import enforce_once, receive_webhook
from graphql_api.core.events import RoomEvent
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, RoomLocked

from .conftest import ADMIN, MODERATOR, USER


def removals(service: FakeRoomService) -> list[tuple[str, str]]:
    return [(request.room, request.identity) for method, request in service.calls if method == "remove_participant"]


def joiner(
    service: FakeRoomService, room: str, identity: str, *, mark: str | None, joined_at: float
) -> models.ParticipantInfo:
    participant = service.add_participant(room, identity)
    participant.joined_at_ms = int(joined_at * 1000)
    if mark is not None:
        participant.attributes[ADMITTED_AS] = mark
    return participant


async def test_who_may_lock(core: Core) -> None:
    with pytest.raises(Forbidden):
        await locks.lock_room(core, USER, "ours")
    with pytest.raises(Forbidden):
        await locks.lock_room(core, MODERATOR, "theirs")
    with pytest.raises(Forbidden):
        await locks.unlock_room(core, USER, "ours")
    with pytest.raises(Forbidden):
        await locks.room_lock(core, USER, "ours")


async def test_a_locked_room_refuses_users_tokens_and_admits_moderators(core: Core) -> None:
    events = core.broker.subscribe("ours")
    lock = await locks.lock_room(core, MODERATOR, "ours")
    assert (lock.locked_by, lock.remove_late_joiners) == ("mod", True)
    with pytest.raises(RoomLocked) as refused:
        await tokens.create_token(core, USER, room="ours", identity="alice")
    assert (refused.value.status, refused.value.code, refused.value.error) == (403, "ROOM_LOCKED", "room locked")
    await tokens.create_token(core, MODERATOR, room="ours", identity="mod")
    await tokens.create_token(core, ADMIN, room="ours", identity="guest")  # an admin lets anyone in
    await tokens.create_token(core, USER, room="elsewhere", identity="alice")
    assert await locks.room_lock(core, MODERATOR, "ours") == lock
    assert await locks.unlock_room(core, MODERATOR, "ours")
    await tokens.create_token(core, USER, room="ours", identity="alice")
    assert not await locks.unlock_room(core, MODERATOR, "ours")
    kinds = [(await events.get(), await events.get())]
    await events.aclose()
    assert [(a.kind, a.actor, b.kind) for a, b in kinds if a and b] == [("room_locked", "mod", "room_unlocked")]


async def test_a_late_joiner_with_a_users_token_is_removed(core: Core, service: FakeRoomService) -> None:
    before = time.time() - 10
    joiner(service, "ours", "early", mark=None, joined_at=before)  # in the room before the lock: stays
    await locks.lock_room(core, ADMIN, "ours")
    late = joiner(service, "ours", "late", mark=None, joined_at=time.time() + 1)
    mod = joiner(service, "ours", "mod", mark="moderator", joined_at=time.time() + 1)
    for participant in (late, mod):
        event = RoomEvent(
            kind="participant_joined",
            room="ours",
            id=participant.identity,
            at=time.time(),
            source="livekit",
            participant=participant,
        )
        await receive_webhook(core, event)
    await asyncio.sleep(0.05)
    assert removals(service) == [("ours", "late")]
    assert set(service.participants["ours"]) == {"early", "mod"}


async def test_the_reconciler_removes_late_joiners_only_where_the_lock_says_so(
    core: Core, service: FakeRoomService
) -> None:
    joiner(service, "ours", "early", mark=None, joined_at=time.time() - 10)  # in before the lock: stays
    await locks.lock_room(core, ADMIN, "ours")
    await locks.lock_room(core, ADMIN, "kept", remove_late_joiners=False)
    joiner(service, "ours", "late", mark=None, joined_at=time.time() + 1)
    joiner(service, "kept", "late", mark=None, joined_at=time.time() + 1)
    announced = await enforce_once(core)
    assert [(event.room, event.reason) for event in announced] == [("ours", "room locked")]
    assert removals(service) == [("ours", "late")]
