"""`rooms { participants }` answers from the participant cache, and room events keep it right.

The services keep an entry for 30 seconds here, so whatever is seen sooner was
brought by an event: our own change on the instance that made it, LiveKit's
webhook (to instance A), or Redis (to instance B). Real LiveKit, real clients,
real Redis.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from livekit import api

from tests.harness.participants import ParticipantPool
from tests.harness.reporting import report
from tests.harness.service import Service
from tests.integration.test_events import ADMIN, Stack, call, events_stack, token

pytestmark = pytest.mark.integration

OVERVIEW = "query($names: [String!]) { rooms(names: $names) { name participants { identity } } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with events_stack(tmp_path_factory, GXRTC_PARTICIPANT_CACHE_SECONDS="30") as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def overview(service: Service, room: str) -> set[str]:
    async with httpx.AsyncClient(base_url=service.base_url, headers={"authorization": ADMIN}, timeout=10) as client:
        response = await client.post("/graphql", json={"query": OVERVIEW, "variables": {"names": [room]}})
    body = response.json()
    assert "errors" not in body, body
    [listed] = body["data"]["rooms"]
    return {participant["identity"] for participant in listed["participants"]}


async def until(service: Service, room: str, expected: set[str], *, timeout: float = 5.0) -> float:
    """Seconds until `rooms { participants }` on `service` lists exactly `expected` (well under the 30 s TTL)."""
    started = time.monotonic()
    seen: set[str] = set()
    while time.monotonic() - started < timeout:
        seen = await overview(service, room)
        if seen == expected:
            return time.monotonic() - started
    raise AssertionError(f"{service.base_url} still lists {sorted(seen)} for {room}, expected {sorted(expected)}")


async def test_joins_and_leaves_reach_both_instances_through_webhooks(
    stack: Stack, pool: ParticipantPool, room_name: str, request: pytest.FixtureRequest
) -> None:
    alice = await pool.join(await token(stack.a, "alice", room_name), audio=False)
    await until(stack.a, room_name, {"alice"})
    await until(stack.b, room_name, {"alice"})  # both caches now hold {alice} for 30 s

    await pool.join(await token(stack.a, "bob", room_name), audio=False)
    joined_a = await until(stack.a, room_name, {"alice", "bob"})
    joined_b = await until(stack.b, room_name, {"alice", "bob"})

    await alice.aclose()
    left_a = await until(stack.a, room_name, {"bob"})
    left_b = await until(stack.b, room_name, {"bob"})
    report(
        request.config,
        "participant cache: LiveKit webhooks (30 s TTL)",
        [
            f"join seen on A (webhook) after {joined_a * 1000:.0f} ms, on B (Redis) {joined_b * 1000:.0f} ms later",
            f"leave seen on A after {left_a * 1000:.0f} ms, on B {left_b * 1000:.0f} ms later",
        ],
    )


async def test_our_own_changes_are_seen_at_once_here_and_soon_on_the_other_instance(
    stack: Stack, pool: ParticipantPool, room_name: str, request: pytest.FixtureRequest
) -> None:
    for uid in ("alice", "bob"):
        await pool.join(await token(stack.a, uid, room_name), audio=False)
    await until(stack.a, room_name, {"alice", "bob"})
    await until(stack.b, room_name, {"alice", "bob"})

    response = await call(stack.a, "DELETE", f"/room/{room_name}/participant/alice")
    assert response.status_code == 200, response.text
    # The instance that made the change answers without it at once: no polling.
    assert await overview(stack.a, room_name) == {"bob"}
    seen_b = await until(stack.b, room_name, {"bob"}, timeout=2.0)

    report(
        request.config,
        "participant cache: our own changes (30 s TTL)",
        [f"kick through A: A at once, B after {seen_b * 1000:.0f} ms (Redis)"],
    )


async def rooms_listed(service: Service, names: list[str]) -> set[str]:
    async with httpx.AsyncClient(base_url=service.base_url, headers={"authorization": ADMIN}, timeout=10) as client:
        response = await client.post("/graphql", json={"query": OVERVIEW, "variables": {"names": names}})
    body = response.json()
    assert "errors" not in body, body
    return {room["name"] for room in body["data"]["rooms"]}


async def rooms_until(service: Service, names: list[str], expected: set[str], timeout: float = 5.0) -> float:
    started = time.monotonic()
    seen: set[str] = set()
    while time.monotonic() - started < timeout:
        seen = await rooms_listed(service, names)
        if seen == expected:
            return time.monotonic() - started
    raise AssertionError(f"{service.base_url} lists rooms {sorted(seen)}, expected {sorted(expected)}")


async def test_the_overview_listing_follows_rooms_opened_and_closed(
    stack: Stack, room_name: str, request: pytest.FixtureRequest
) -> None:
    first, second = f"{room_name}-1", f"{room_name}-2"
    names = [first, second]
    assert (await call(stack.a, "POST", "/room/", room=first)).status_code == 200
    await rooms_until(stack.b, names, {first})  # B now keeps this listing for 30 s

    assert (await call(stack.a, "POST", "/room/", room=second)).status_code == 200
    opened = await rooms_until(stack.b, names, {first, second})  # our change, through Redis

    async with api.LiveKitAPI(stack.livekit.url, stack.livekit.api_key, stack.livekit.api_secret) as lkapi:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=first))  # not through us: LiveKit's webhook
    closed = await rooms_until(stack.b, names, {second})
    report(
        request.config,
        "overview cache: room listings (30 s TTL)",
        [f"room opened through A seen on B after {opened * 1000:.0f} ms; closed in LiveKit, {closed * 1000:.0f} ms"],
    )
