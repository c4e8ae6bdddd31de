"""Bans over the fake LiveKit and an in-memory store: policy, expiry, every-room bans, the cache, minting refused."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import jwt
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core import bans, locks, tokens
from graphql_api.core.admission import ADMITTED_AS, NO_RULES, RoomRules, RulesCache, load_rules, room_rules
from graphql_api.core.enforcement import enforce_once, follow_rules, receive_webhook
from graphql_api.core.events import RoomEvent
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.core.store import Store
from graphql_api.errors import Banned, Forbidden, InvalidParameter, ServiceUnavailable

from .conftest import ADMIN, MODERATOR, SECRET, USER


def removals(service: FakeRoomService) -> list[tuple[str, str]]:
    return [(request.room, request.identity) for method, request in service.calls if method == "remove_participant"]


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, SECRET, algorithms=["HS256"])
    return decoded


async def test_a_ban_removes_the_participant_and_refuses_its_tokens(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "alice")
    ban = await bans.ban_participant(core, MODERATOR, "ours", "alice", reason="spam")
    assert (ban.room, ban.identity, ban.banned_by, ban.expires_at) == ("ours", "alice", "mod", None)
    assert removals(service) == [("ours", "alice")]
    with pytest.raises(Banned) as refused:
        await tokens.create_token(core, USER, room="ours", identity="alice")
    assert (refused.value.status, refused.value.code, refused.value.error) == (403, "BANNED", "banned")
    # Only that room.
    await tokens.create_token(core, USER, room="theirs", identity="alice")


async def test_a_missing_participant_can_be_banned(core: Core, service: FakeRoomService) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "ghost")
    assert [ban.identity for ban in await bans.list_bans(core, MODERATOR, "ours")] == ["ghost"]


async def test_who_may_ban(core: Core) -> None:
    with pytest.raises(Forbidden):
        await bans.ban_participant(core, USER, "ours", "bob")
    with pytest.raises(Forbidden):
        await bans.ban_participant(core, MODERATOR, "theirs", "bob")
    with pytest.raises(Forbidden):
        await bans.ban_participant(core, MODERATOR, None, "bob")  # every room: admins only
    with pytest.raises(Forbidden):
        await bans.unban_participant(core, USER, "ours", "bob")
    with pytest.raises(Forbidden):
        await bans.list_bans(core, USER, "ours")
    with pytest.raises(Forbidden):
        await bans.list_bans(core, MODERATOR, None)


async def test_input_is_bounded(core: Core) -> None:
    with pytest.raises(InvalidParameter) as reason:
        await bans.ban_participant(core, ADMIN, "ours", "bob", reason="x" * (bans.MAX_REASON_BYTES + 1))
    assert reason.value.param == "reason"
    with pytest.raises(InvalidParameter) as duration:
        await bans.ban_participant(core, ADMIN, "ours", "bob", duration_seconds=bans.MAX_BAN_SECONDS + 1)
    assert duration.value.param == "duration_seconds"
    with pytest.raises(InvalidParameter):
        await bans.ban_participant(core, ADMIN, "ours", "bob", duration_seconds=-1)


async def test_unban_lets_the_identity_in_again(core: Core) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice")
    assert await bans.unban_participant(core, MODERATOR, "ours", "alice")
    assert not await bans.unban_participant(core, MODERATOR, "ours", "alice")
    await tokens.create_token(core, USER, room="ours", identity="alice")
    assert await bans.list_bans(core, ADMIN, "ours") == []


async def test_an_expired_ban_is_neither_listed_nor_enforced_and_is_purged(core: Core) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice", duration_seconds=1)
    with pytest.raises(Banned):
        await tokens.create_token(core, USER, room="ours", identity="alice")
    rules = await load_rules(core, "ours")
    [ban] = rules.bans
    assert ban.expires_at is not None
    assert rules.ban_of("alice", ban.expires_at + 0.001) is None
    assert rules.ban_of("alice", ban.expires_at - 0.5) is not None
    await asyncio.sleep(1.05)
    assert await bans.list_bans(core, ADMIN, "ours") == []
    await tokens.create_token(core, USER, room="ours", identity="alice")  # cached rules, compared with now
    assert await bans.purge_expired_bans(core) == 1
    assert await load_rules(core, "ours") is NO_RULES


async def test_an_every_room_ban_holds_in_every_room(core: Core, service: FakeRoomService) -> None:
    service.add_participant("one", "troll")
    service.add_participant("two", "troll")
    service.add_participant("two", "bob")
    events = core.broker.subscribe(None, watch=False)
    await bans.ban_participant(core, ADMIN, None, "troll", reason="everywhere", duration_seconds=60)
    assert sorted(removals(service)) == [("one", "troll"), ("two", "troll")]
    for room in ("one", "two", "never-made"):
        with pytest.raises(Banned):
            await tokens.create_token(core, ADMIN, room=room, identity="troll")
    listed = await bans.list_bans(core, MODERATOR, "ours")
    assert [(ban.room, ban.identity, ban.reason) for ban in listed] == [("", "troll", "everywhere")]
    received = [await events.get(), await events.get()]
    kinds = [(event.kind, event.room, event.reason) for event in received if event is not None]
    assert sorted(kinds) == [("participant_banned", "one", "everywhere"), ("participant_banned", "two", "everywhere")]
    await events.aclose()
    assert await bans.unban_participant(core, ADMIN, None, "troll")
    await tokens.create_token(core, USER, room="one", identity="alice")


async def test_ban_and_unban_are_published_with_actor_reason_and_until(core: Core) -> None:
    events = core.broker.subscribe("ours")
    ban = await bans.ban_participant(core, MODERATOR, "ours", "alice", reason="rude", duration_seconds=300)
    await bans.unban_participant(core, MODERATOR, "ours", "alice")
    banned, unbanned = await events.get(), await events.get()
    await events.aclose()
    assert banned is not None
    assert unbanned is not None
    assert (banned.kind, banned.actor, banned.reason, banned.until) == (
        "participant_banned",
        "mod",
        "rude",
        ban.expires_at,
    )
    assert banned.participant is not None
    assert banned.participant.identity == "alice"
    assert RoomEvent.from_wire(banned.to_wire()) == banned
    assert (unbanned.kind, unbanned.actor) == ("participant_unbanned", "mod")


async def test_a_joiner_who_is_banned_is_removed_at_the_webhook(core: Core, service: FakeRoomService) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice")
    joined = service.add_participant("ours", "alice")
    events = core.broker.subscribe("ours")
    await receive_webhook(
        core,
        RoomEvent(
            kind="participant_joined", room="ours", id="j1", at=time.time(), source="livekit", participant=joined
        ),
    )
    refused = await asyncio.wait_for(events.get(), 2)
    joined_event = await asyncio.wait_for(events.get(), 2)
    await events.aclose()
    kinds = {refused.kind if refused else None, joined_event.kind if joined_event else None}
    assert kinds == {"participant_refused", "participant_joined"}
    assert removals(service)[-1] == ("ours", "alice")
    refusal = refused if refused and refused.kind == "participant_refused" else joined_event
    assert refusal is not None
    assert refusal.reason == "banned"


async def test_a_joiner_who_may_stay_is_left_alone(core: Core, service: FakeRoomService) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice")
    service.calls.clear()
    bob = service.add_participant("ours", "bob")
    await receive_webhook(
        core,
        RoomEvent(kind="participant_joined", room="ours", id="j2", at=time.time(), source="livekit", participant=bob),
    )
    await asyncio.sleep(0.05)
    assert removals(service) == []


async def test_the_reconciler_removes_a_banned_participant_whose_webhook_was_lost(
    core: Core, service: FakeRoomService
) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice")
    service.add_participant("ours", "alice")  # joined again; LiveKit's webhook never came
    service.add_participant("ours", "bob")
    service.add_participant("elsewhere", "alice")
    announced = await enforce_once(core)
    assert [(event.kind, event.room, event.reason) for event in announced] == [
        ("participant_refused", "ours", "banned")
    ]
    assert removals(service)[-1] == ("ours", "alice")
    assert set(service.participants["ours"]) == {"bob"}


async def test_a_ban_made_elsewhere_is_seen_at_once_by_its_event(core: Core) -> None:
    """Another instance's ban reaches this one as an event, which drops the cached rules."""
    assert await room_rules(core, "ours") is NO_RULES  # cached: nothing to decide
    follower = asyncio.create_task(follow_rules(core))
    await asyncio.sleep(0)
    # The other instance's write, straight to the shared store, and its event through the broker.
    other = dataclasses.replace(core, rules=RulesCache())  # its own cache, the same store and broker
    await bans.ban_participant(other, ADMIN, "ours", "alice")
    await asyncio.sleep(0.05)
    follower.cancel()
    with pytest.raises(Banned):
        await tokens.create_token(core, USER, room="ours", identity="alice")


async def test_without_the_event_the_cache_is_used_until_its_ttl() -> None:
    now = [0.0]
    cache = RulesCache(ttl=2.0, clock=lambda: now[0])
    reads: list[str] = []
    answer = [NO_RULES]

    async def load(room: str) -> RoomRules:
        reads.append(room)
        return answer[0]

    assert await cache.get("ours", load) is NO_RULES
    answer[0] = RoomRules()
    now[0] = 1.9
    assert await cache.get("ours", load) is NO_RULES
    assert reads == ["ours"]
    now[0] = 2.0
    assert await cache.get("ours", load) is answer[0]
    assert reads == ["ours", "ours"]
    cache.drop("ours")
    assert await cache.get("ours", load) is answer[0]
    assert len(reads) == 3


async def test_the_cache_is_bounded() -> None:
    cache = RulesCache(max_rooms=3)

    async def load(room: str) -> RoomRules:
        return NO_RULES

    for index in range(10):
        await cache.get(f"room-{index}", load)
    assert sorted(cache.known()) == ["room-7", "room-8", "room-9"]


async def test_with_the_database_down_the_last_known_rules_hold() -> None:
    now = [0.0]
    cache = RulesCache(ttl=2.0, clock=lambda: now[0])
    known = RoomRules()
    down = [False]

    async def load(room: str) -> RoomRules:
        if down[0]:
            raise ServiceUnavailable("the database is unavailable", reason="database unavailable")
        return known

    assert await cache.get("ours", load) is known
    down[0] = True
    now[0] = 5.0
    assert await cache.get("ours", load) is known  # stale, but the last known
    assert await cache.get("never-read", load) is NO_RULES  # none known: nothing to refuse with


async def test_ban_writes_answer_503_when_the_database_is_down(core: Core) -> None:
    await tokens.create_token(core, USER, room="ours", identity="alice")  # the room's rules are known
    await core.store.engine.dispose()
    unreachable = Store(create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db"), timeout_seconds=1)
    down = dataclasses.replace(core, store=unreachable)
    down.rules.drop("ours")
    with pytest.raises(ServiceUnavailable) as refused:
        await bans.ban_participant(down, ADMIN, "ours", "alice")
    assert refused.value.status == 503
    assert refused.value.error == "database unavailable"
    with pytest.raises(ServiceUnavailable):
        await locks.lock_room(down, ADMIN, "ours")
    await tokens.create_token(down, USER, room="ours", identity="alice")  # minting keeps working


async def test_a_moderators_token_carries_its_mark_and_a_users_none(core: Core) -> None:
    assert claims((await tokens.create_token(core, MODERATOR, room="ours", identity="mod")).token)["attributes"] == {
        ADMITTED_AS: "moderator"
    }
    # An admin's only while the room is locked.
    assert "attributes" not in claims((await tokens.create_token(core, ADMIN, room="ours", identity="x")).token)
    assert "attributes" not in claims((await tokens.create_token(core, USER, room="ours", identity="alice")).token)
    # A moderator of another room mints as a user there.
    assert "attributes" not in claims((await tokens.create_token(core, MODERATOR, room="theirs", identity="mod")).token)
    await locks.lock_room(core, ADMIN, "ours")
    assert claims((await tokens.create_token(core, ADMIN, room="ours", identity="x")).token)["attributes"] == {
        ADMITTED_AS: "admin"
    }


async def test_the_mark_cannot_be_set_through_the_api(core: Core, service: FakeRoomService) -> None:
    from graphql_api.core import participants

    service.add_participant("ours", "alice")
    with pytest.raises(InvalidParameter):
        await participants.update_participant(core, ADMIN, "ours", "alice", attributes={ADMITTED_AS: "admin"})
