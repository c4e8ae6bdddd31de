"""The room itself against a real LiveKit with real rtc clients: a message reaches whom it names (data_received),
room metadata reaches the participants (room_metadata_changed), and a token's metadata and attributes are the
participant's as LiveKit shows it; each on both faces, with its event on roomEvents and its refusals."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.participants import ParticipantPool
from tests.integration.moderation_stack import ADMIN, Stack, bearer, graphql, mint, moderation_stack, rest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with moderation_stack(tmp_path_factory, webhooks=True) as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def test_a_message_reaches_the_identities_it_names_and_everyone_without_them(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    alice = await pool.join(await mint(stack.a, "alice", room_name))
    bob = await pool.join(await mint(stack.a, "bob", room_name))
    moderator = bearer("host", ["moderator"], [room_name])
    marks = alice.mark(), bob.mark()
    sent = await rest(
        stack.a,
        "POST",
        f"/room/{room_name}/message",
        moderator,
        payload="you were muted",
        topic="why",
        identities="bob",
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"] == {"room": room_name, "topic": "why", "identities": ["bob"], "payload_bytes": 14}
    got = await bob.wait_for("data_received", since=marks[1])
    assert (got.args[0].data, got.args[0].topic) == (b"you were muted", "why")
    body = await graphql(
        stack.b,
        'mutation($r: String!) { sendMessage(room: $r, payload: "all: 你好") { identities payloadBytes } }',
        moderator,
        r=room_name,
    )
    assert body["data"]["sendMessage"] == {"identities": [], "payloadBytes": len("all: 你好".encode())}
    for participant, mark in ((alice, marks[0]), (bob, marks[1])):
        await participant.wait_for("data_received", lambda packet: packet.data == "all: 你好".encode(), since=mark)
    assert [event.args[0].data for event in alice.events_named("data_received", since=marks[0])] == [
        "all: 你好".encode()
    ]  # the first message was for bob only
    refused = await rest(stack.a, "POST", f"/room/{room_name}/message", bearer("x", ["user"]), payload="hi")
    assert refused.status_code == 403
    missing = await rest(stack.a, "POST", f"/room/{room_name}/message", topic="t")
    assert missing.status_code == 400
    assert missing.json()["meta"]["message"] == "params payload is required"
    too_big = await rest(stack.a, "POST", f"/room/{room_name}/message", payload="x" * (15 * 1024 + 1))
    assert too_big.status_code == 400
    assert "payload" in too_big.json()["meta"]["message"]
    assert (await rest(stack.a, "POST", "/room/no-such-room-here/message", payload="hi")).status_code == 404


async def test_room_metadata_reaches_the_participants_and_the_event_stream(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    alice = await pool.join(await mint(stack.a, "alice", room_name))
    moderator = bearer("host", ["moderator"], [room_name])
    mark = alice.mark()
    updated = await rest(stack.a, "POST", f"/room/{room_name}/metadata", moderator, metadata='{"agenda": 1}')
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["metadata"] == '{"agenda": 1}'
    changed = await alice.wait_for("room_metadata_changed", since=mark)
    assert changed.args[1] == '{"agenda": 1}'
    body = await graphql(
        stack.b,
        'mutation($r: String!) { updateRoomMetadata(room: $r, metadata: "second") { name metadata } }',
        moderator,
        r=room_name,
    )
    assert body["data"]["updateRoomMetadata"] == {"name": room_name, "metadata": "second"}
    await alice.wait_until(lambda: alice.room.metadata == "second")
    audit = await rest(stack.a, "GET", f"/room/{room_name}/audit?action=update_room_metadata")
    assert [event["actor"] for event in audit.json()["data"]["events"]] == ["host", "host"]
    refused = await graphql(
        stack.a,
        'mutation($r: String!) { updateRoomMetadata(room: $r, metadata: "x") { name } }',
        bearer("other", ["moderator"], ["elsewhere"]),
        r=room_name,
    )
    assert [error["extensions"]["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    assert (await rest(stack.a, "POST", "/room/no-such-room-here/metadata", metadata="x")).status_code == 404
    missing = await rest(stack.a, "POST", f"/room/{room_name}/metadata")
    assert missing.json()["meta"]["message"] == "params metadata is required"


async def test_a_tokens_metadata_and_attributes_are_the_participants_in_livekit(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    moderator = bearer("host", ["moderator"], [room_name])
    minted = await rest(
        stack.a,
        "POST",
        "/room/token",
        moderator,
        uid="host",
        room=room_name,
        metadata='{"seat": 3}',
        attributes=json.dumps({"team": "blue"}),
    )
    assert minted.status_code == 200, minted.text
    host = await pool.join(minted.json()["data"]["access_token"])
    assert host.local.metadata == '{"seat": 3}'
    assert host.local.attributes == {"team": "blue", "gxrtc.admitted_as": "moderator"}
    body = await graphql(
        stack.b,
        """mutation($r: String!) {
            createToken(room: $r, identity: "guest", metadata: "vip", attributes: {lang: "zh"}) { token }
        }""",
        ADMIN,
        r=room_name,
    )
    guest = await pool.join(body["data"]["createToken"]["token"])
    assert guest.local.metadata == "vip"
    await asyncio.sleep(0)
    seen = await graphql(
        stack.a,
        'query($r: String!) { participant(room: $r, identity: "guest") { metadata attributes } }',
        ADMIN,
        r=room_name,
    )
    assert seen["data"]["participant"] == {"metadata": "vip", "attributes": {"lang": "zh"}}

    user = bearer("alice", ["user"])
    refused = await rest(stack.a, "POST", "/room/token", user, uid="alice", room=room_name, metadata="x")
    assert refused.status_code == 403
    bad = await rest(stack.a, "POST", "/room/token", uid="g", room=room_name, attributes="[1]")
    assert bad.status_code == 400
    assert bad.json()["meta"]["message"].startswith("params attributes ")
    reserved = await rest(
        stack.a, "POST", "/room/token", uid="g", room=room_name, attributes='{"gxrtc.admitted_as": "admin"}'
    )
    assert reserved.status_code == 400


async def test_the_room_itself_and_mute_all_on_room_events_through_another_instance(
    stack: Stack, pool: ParticipantPool, room_name: str
) -> None:
    """Changes made through A reach a subscriber on B (through Redis): a message without its payload."""
    await pool.join(await mint(stack.a, "alice", room_name))
    query = """subscription($room: String!) { roomEvents(room: $room) {
        kind actor identities sources topic metadata reason participant { identity } } }"""
    url = stack.b.base_url.replace("http", "ws") + "/graphql"
    async with SubscriptionClient(url, ADMIN["authorization"]) as subscriber:
        key = await subscriber.subscribe(query, room=room_name)
        _, snapshot = await subscriber.next_event(key)
        assert snapshot["kind"] == "SNAPSHOT"
        await rest(stack.a, "POST", f"/room/{room_name}/message", payload="secret words", topic="t", identities="alice")
        await rest(stack.a, "POST", f"/room/{room_name}/metadata", metadata="m1")
        await rest(stack.a, "POST", f"/room/{room_name}/mute_all", ADMIN, **{"except": "alice", "sources": "camera"})
        await rest(stack.a, "DELETE", f"/room/{room_name}/mute_all")
        seen: list[dict[str, Any]] = []
        while len(seen) < 4:
            _, event = await subscriber.next_event(key)
            if event["kind"] in ("MESSAGE_SENT", "ROOM_METADATA_UPDATED", "ROOM_MUTED_ALL", "ROOM_UNMUTED_ALL"):
                seen.append(event)
    assert "secret words" not in json.dumps(seen)
    assert [(e["kind"], e["identities"], e["sources"], e["topic"], e["metadata"]) for e in seen] == [
        ("MESSAGE_SENT", ["alice"], [], "t", None),
        ("ROOM_METADATA_UPDATED", [], [], None, "m1"),
        ("ROOM_MUTED_ALL", ["alice"], ["CAMERA"], None, None),
        ("ROOM_UNMUTED_ALL", [], [], None, None),
    ]
    assert {e["actor"] for e in seen} == {"key:admin"}
