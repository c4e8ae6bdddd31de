"""Room locks against a real LiveKit with real clients: a locked room refuses a user's token and admits a
moderator's; a late joiner with an old user token is removed, and who was in before the lock stays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.harness.participants import ParticipantPool
from tests.integration.moderation_stack import Stack, bearer, graphql, mint, moderation_stack, rest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with moderation_stack(tmp_path_factory, webhooks=True, GXRTC_RECONCILE_INTERVAL_SECONDS="60") as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def test_a_locked_room_refuses_a_users_token_and_admits_a_moderators(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    moderator = bearer("mod", ["moderator"], [room_name])
    user = bearer("alice", ["user"])
    assert (await rest(stack.a, "POST", f"/room/{room_name}/lock", user)).status_code == 403
    locked = await rest(stack.a, "POST", f"/room/{room_name}/lock", moderator)
    assert locked.status_code == 200, locked.text
    assert locked.json()["data"]["locked_by"] == "mod"
    refused = await rest(stack.a, "POST", "/room/token", user, uid="alice", room=room_name)
    assert refused.status_code == 403
    assert refused.json()["meta"]["error"] == "room locked"
    body = await graphql(
        stack.b, 'mutation($r: String!) { createToken(room: $r, identity: "alice") { token } }', user, r=room_name
    )
    assert [error["extensions"]["code"] for error in body["errors"]] == ["ROOM_LOCKED"]
    body = await graphql(
        stack.b, "query($r: String!) { roomLock(room: $r) { lockedBy removeLateJoiners } }", moderator, r=room_name
    )
    assert body["data"]["roomLock"] == {"lockedBy": "mod", "removeLateJoiners": True}

    host = await pool.join(await mint(stack.a, "mod", room_name, moderator))
    await asyncio.sleep(1.5)  # a webhook-driven removal would have happened by now
    assert host.connected

    unlocked = await graphql(stack.a, "mutation($r: String!) { unlockRoom(room: $r) }", moderator, r=room_name)
    assert unlocked["data"] == {"unlockRoom": True}
    await mint(stack.b, "alice", room_name, user)


async def test_a_late_joiner_with_an_old_user_token_is_removed(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    user_token = await mint(stack.a, "late", room_name, bearer("late", ["user"]))
    early = await pool.join(await mint(stack.a, "early", room_name, bearer("early", ["user"])))
    assert (await rest(stack.a, "POST", f"/room/{room_name}/lock")).status_code == 200
    late = await pool.join(user_token)
    await late.wait_disconnected(timeout=10)
    await asyncio.sleep(1)
    assert early.connected  # in the room before the lock


async def test_a_lock_that_keeps_late_joiners_only_refuses_tokens(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    user_token = await mint(stack.a, "late", room_name, bearer("late", ["user"]))
    locked = await rest(stack.a, "POST", f"/room/{room_name}/lock", remove_late_joiners="false")
    assert locked.json()["data"]["remove_late_joiners"] is False
    assert (
        await rest(stack.a, "POST", "/room/token", bearer("x", ["user"]), uid="x", room=room_name)
    ).status_code == 403
    late = await pool.join(user_token)
    await asyncio.sleep(1.5)
    assert late.connected
