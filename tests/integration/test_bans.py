"""Bans against a real LiveKit with real clients: a banned client is removed and stays out (by the webhook, and by
the reconciler when the webhook is lost), minting is refused on both faces, expiry and unban let it back in, and
two services on one store agree."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from livekit import rtc

from tests.harness.participants import ParticipantPool
from tests.harness.reporting import report
from tests.integration.moderation_stack import (
    Stack,
    bearer,
    graphql,
    mint,
    moderation_stack,
    percentile,
    rest,
)

pytestmark = pytest.mark.integration

TRIES = 10
RECONCILE_INTERVAL = 1.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The reconciler slow, so what removes a rejoin here is the webhook.
    with moderation_stack(tmp_path_factory, webhooks=True, GXRTC_RECONCILE_INTERVAL_SECONDS="60") as started:
        yield started


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_instances(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A and B on one store of either kind, for what the two must agree on."""
    url = request.getfixturevalue("postgres_server").create_database() if request.param == "postgresql" else None
    with moderation_stack(
        tmp_path_factory, webhooks=True, database_url=url, GXRTC_RECONCILE_INTERVAL_SECONDS="60"
    ) as started:
        yield started


@pytest.fixture(scope="module")
def unhooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """No webhooks reach any service: only the reconciler sees joins."""
    interval = str(RECONCILE_INTERVAL)
    with moderation_stack(tmp_path_factory, webhooks=False, GXRTC_RECONCILE_INTERVAL_SECONDS=interval) as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def time_to_removal(pool: ParticipantPool, token: str, *, timeout: float = 10) -> float:
    """Join with `token`; seconds from the join until the server removed it."""
    started = time.monotonic()
    try:
        participant = await pool.join(token)
    except (rtc.ConnectError, TimeoutError):
        return time.monotonic() - started  # removed before the connection was even up
    event = await participant.wait_for("disconnected", timeout=timeout)
    await participant.aclose()
    return event.at - started


async def test_a_banned_client_is_disconnected_and_removed_again_when_it_rejoins(
    stack: Stack, pool: ParticipantPool, room_name: str, pytestconfig: pytest.Config
) -> None:
    token = await mint(stack.a, "troll", room_name)
    troll = await pool.join(token)
    response = await rest(stack.a, "POST", f"/room/{room_name}/participant/troll/ban", reason="spam", duration="600")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["reason"] == "spam"
    await troll.wait_disconnected(timeout=10)
    removals = [await time_to_removal(pool, token) for _ in range(TRIES)]
    p50, p95 = percentile(removals, 0.5), percentile(removals, 0.95)
    report(pytestconfig, "ban enforcement (webhook)", [f"rejoin removed after p50 {p50:.3f} s, p95 {p95:.3f} s"])
    assert max(removals) < 5, removals  # the goal is 1 s (see the report); this only catches a missed removal


async def test_minting_for_a_banned_identity_is_refused_on_both_faces(stack: Stack, room_name: str) -> None:
    moderator = bearer("mod", ["moderator"], [room_name])
    body = await graphql(
        stack.a,
        'mutation($r: String) { banParticipant(room: $r, identity: "alice", reason: "rude") { room identity bannedBy'
        " expiresAt } }",
        moderator,
        r=room_name,
    )
    assert body["data"]["banParticipant"] == {
        "room": room_name,
        "identity": "alice",
        "bannedBy": "mod",
        "expiresAt": None,
    }, body
    alice = bearer("alice", ["user"])
    refused = await rest(stack.a, "POST", "/room/token", alice, uid="alice", room=room_name)
    assert refused.status_code == 403
    assert refused.json()["meta"]["error"] == "banned"
    body = await graphql(
        stack.a, 'mutation($r: String!) { createToken(room: $r, identity: "alice") { token } }', alice, r=room_name
    )
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BANNED"]
    listed = await rest(stack.a, "GET", f"/room/{room_name}/bans", moderator)
    assert [(ban["uid"], ban["reason"], ban["banned_by"]) for ban in listed.json()["data"]["bans"]] == [
        ("alice", "rude", "mod")
    ]
    # Another room is not affected; a user may not ban.
    await mint(stack.a, "alice", room_name + "-other", alice)
    assert (await rest(stack.a, "POST", f"/room/{room_name}/participant/bob/ban", alice)).status_code == 403


async def test_after_unban_or_expiry_the_identity_joins_and_stays(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    await rest(stack.a, "POST", f"/room/{room_name}/participant/carol/ban")
    assert (await rest(stack.a, "POST", "/room/token", uid="carol", room=room_name)).status_code == 403
    unbanned = await rest(stack.a, "DELETE", f"/room/{room_name}/participant/carol/ban")
    assert unbanned.json()["data"] == {"unbanned": True}
    carol = await pool.join(await mint(stack.a, "carol", room_name))

    await rest(stack.a, "POST", f"/room/{room_name}/participant/dave/ban", duration="2")
    assert (await rest(stack.a, "POST", "/room/token", uid="dave", room=room_name)).status_code == 403
    await asyncio.sleep(2.2)
    dave = await pool.join(await mint(stack.a, "dave", room_name))
    await asyncio.sleep(1.5)  # long enough for a webhook-driven removal to have happened
    assert carol.connected
    assert dave.connected


async def test_a_ban_through_a_is_enforced_by_bs_minting_within_the_cache_bound(
    two_instances: Stack, room_name: str, pytestconfig: pytest.Config
) -> None:
    stack = two_instances
    await mint(stack.b, "erin", room_name)  # B has read the room's rules: they are cached there
    await rest(stack.a, "POST", f"/room/{room_name}/participant/erin/ban")
    started = time.monotonic()
    while (await rest(stack.b, "POST", "/room/token", uid="erin", room=room_name)).status_code == 200:
        assert time.monotonic() - started < 2.5, "B still mints for erin past the 2 s cache bound"
        await asyncio.sleep(0.05)
    report(pytestconfig, "ban seen by another instance", [f"B refused after {time.monotonic() - started:.3f} s"])


async def test_concurrent_bans_and_unbans_on_two_services_end_in_one_state(
    two_instances: Stack, room_name: str
) -> None:
    stack = two_instances
    path = f"/room/{room_name}/participant/frank/ban"

    async def flip(service_index: int, round_: int) -> None:
        service = (stack.a, stack.b)[service_index]
        method = "POST" if (round_ + service_index) % 2 == 0 else "DELETE"
        response = await rest(service, method, path)
        assert response.status_code == 200, response.text

    await asyncio.gather(*(flip(index, round_) for round_ in range(10) for index in (0, 1)))
    final = await rest(stack.a, "POST", path)  # the last word
    assert final.status_code == 200
    for service in (stack.a, stack.b):
        listed = (await rest(service, "GET", f"/room/{room_name}/bans")).json()["data"]["bans"]
        assert [ban["uid"] for ban in listed] == ["frank"]
        assert (await rest(service, "POST", "/room/token", uid="frank", room=room_name)).status_code == 403
    await rest(stack.b, "DELETE", path)
    for service in (stack.a, stack.b):
        deadline = time.monotonic() + 2.5
        while (await rest(service, "POST", "/room/token", uid="frank", room=room_name)).status_code != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_a_ban_on_every_room_is_for_admins_and_holds_everywhere(stack: Stack, room_name: str) -> None:
    moderator = bearer("mod", ["moderator"], [room_name])
    assert (await rest(stack.a, "POST", "/ban/grace", moderator)).status_code == 403
    banned = await rest(stack.a, "POST", "/ban/grace", reason="everywhere")
    assert banned.json()["data"]["room"] is None
    for room in (room_name, room_name + "-2"):
        assert (await rest(stack.a, "POST", "/room/token", uid="grace", room=room)).json()["meta"]["error"] == "banned"
    listed = (await rest(stack.a, "GET", "/bans")).json()["data"]["bans"]
    assert ("grace", None) in [(ban["uid"], ban["room"]) for ban in listed]
    assert (await rest(stack.a, "DELETE", "/ban/grace")).json()["data"] == {"unbanned": True}
    await mint(stack.a, "grace", room_name)


async def test_without_webhooks_the_reconciler_removes_a_banned_rejoin(
    unhooked: Stack, room_name: str, pytestconfig: pytest.Config
) -> None:
    pool = ParticipantPool(unhooked.livekit.ws_url)
    try:
        token = await mint(unhooked.a, "troll", room_name)
        troll = await pool.join(token)
        await rest(unhooked.a, "POST", f"/room/{room_name}/participant/troll/ban")
        await troll.wait_disconnected(timeout=10)
        removals = [await time_to_removal(pool, token) for _ in range(3)]
    finally:
        await pool.aclose()
    report(
        pytestconfig,
        "ban enforcement (reconciler, no webhook)",
        [f"rejoin removed after {', '.join(f'{r:.2f}' for r in removals)} s (interval {RECONCILE_INTERVAL} s)"],
    )
    # Within the interval, plus LiveKit's listing and removal on a loaded machine.
    assert max(removals) < RECONCILE_INTERVAL + 3, removals
