"""Bulk acts and presence against a real LiveKit with real clients, on two instances (A gets LiveKit's webhooks,
B hears of them through Redis): a bulk kick of 50 with 10 that cannot be kicked, on both faces; a bulk mute seen by
another client; a moderator of one room refused another's for the whole call; the maximum; an audit row per item;
presence of one identity in three rooms, changing after a leave within the documented bound; a moderator's view."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bench.participants import SignalPool
from tests.harness.participants import ParticipantPool
from tests.harness.reporting import report
from tests.integration.moderation_stack import ADMIN, Stack, bearer, graphql, mint, moderation_stack, rest

pytestmark = pytest.mark.integration

SWEEP_SECONDS = 3.0
"""The presence sweep of this stack; the webhooks make most changes known sooner."""

KICK = "mutation($r: String!, $i: [String!]!) { kickParticipants(room: $r, identities: $i) { identity ok error {"
KICK += " code reason message } } }"
PRESENCE = "query($i: [String!]!) { presence(identities: $i) { identity rooms { room joinedAt participantSid } } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with moderation_stack(
        tmp_path_factory,
        webhooks=True,
        GXRTC_PRESENCE_SWEEP_SECONDS=str(SWEEP_SECONDS),
        GXRTC_RECONCILE_INTERVAL_SECONDS="60",
    ) as started:
        yield started


@pytest.fixture
async def signals(stack: Stack) -> AsyncIterator[SignalPool]:
    pool = SignalPool(stack.livekit.ws_url, stack.livekit.api_key, stack.livekit.api_secret)
    yield pool
    await pool.aclose()


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


async def identities_in(stack: Stack, room: str) -> set[str]:
    response = await rest(stack.a, "GET", f"/room/{room}/participants")
    assert response.status_code == 200, response.text
    return {participant["identity"] for participant in response.json()["data"]["participants"]}


async def fifty(signals: SignalPool) -> tuple[str, str, list[str]]:
    """A room with 40 of the 50 identities in it, another with 5 of them; 5 are nowhere."""
    room, other = unique("bulk"), unique("bulk-other")
    names = [f"u{n:02d}" for n in range(50)]
    await signals.join_all([(room, name) for name in names[:40]] + [(other, name) for name in names[40:45]])
    return room, other, names


def check_fifty(results: list[dict[str, Any]], names: list[str], *, rest_face: bool) -> None:
    assert [result["identity"] for result in results] == names
    assert [result["ok"] for result in results] == [True] * 40 + [False] * 10
    for result in results[40:]:
        error = result["error"]
        if rest_face:
            assert (error["code"], error["error"]) == (404, "participant not found"), result
        else:
            assert (error["code"], error["reason"]) == ("NOT_FOUND", "participant not found"), result
        assert result["identity"] in error["message"]


async def test_a_bulk_kick_of_fifty_through_graphql(stack: Stack, signals: SignalPool, pytestconfig: Any) -> None:
    room, other, names = await fifty(signals)
    moderator = bearer("host", ["moderator"], [room])
    started = time.perf_counter()
    body = await graphql(stack.b, KICK, moderator, r=room, i=names)
    took = time.perf_counter() - started
    assert "errors" not in body, body
    check_fifty(body["data"]["kickParticipants"], names, rest_face=False)
    assert await identities_in(stack, room) == set()
    assert await identities_in(stack, other) == set(names[40:45])
    report(pytestconfig, "bulk kick", [f"50 identities (40 kicked) through GraphQL in one call: {took:.3f} s"])


async def test_a_bulk_kick_of_fifty_through_rest_in_chinese(stack: Stack, signals: SignalPool) -> None:
    room, other, names = await fifty(signals)
    moderator = bearer("host", ["moderator"], [room])
    async with httpx.AsyncClient(base_url=stack.a.api, timeout=30) as client:
        # Repeated and comma-separated at once.
        form = [("identities", ",".join(names[:25]))] + [("identities", name) for name in names[25:]]
        response = await client.post(
            f"/room/{room}/participants/kick",
            content=urlencode(form),
            headers={**moderator, "accept-language": "zh-CN", "content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200, response.text
    results = response.json()["data"]["results"]
    check_fifty(results, names, rest_face=True)
    assert results[45]["error"]["message"] == f"用户 u45 不在房间 {room} 中"
    assert await identities_in(stack, room) == set()
    assert await identities_in(stack, other) == set(names[40:45])
    # Each item audited, and the call itself.
    audit = await rest(stack.a, "GET", f"/room/{room}/audit?limit=500")
    events = audit.json()["data"]["events"]
    kicks = sorted((event["identity"], event["result"]) for event in events if event["action"] == "kick")
    assert kicks == sorted(
        [(name, "ok") for name in names[:40]] + [(name, "participant not found") for name in names[40:]]
    )
    [call] = [event for event in events if event["action"] == "kick_many"]
    assert (call["result"], call["detail"]) == ("ok", {"count": 50, "succeeded": 40})


async def test_a_bulk_mute_is_seen_by_another_client(stack: Stack, pool: ParticipantPool) -> None:
    room = unique("bulk-mute")
    speakers = [await pool.join(await mint(stack.a, f"speaker{n}", room), audio=True) for n in range(3)]
    listener = await pool.join(await mint(stack.a, "listener", room))
    marks = listener.mark()
    response = await rest(
        stack.b, "POST", f"/room/{room}/participants/mute", identities="speaker0,speaker1,ghost", sources="MICROPHONE"
    )
    assert response.status_code == 200, response.text
    assert [(r["identity"], r["ok"]) for r in response.json()["data"]["results"]] == [
        ("speaker0", True),
        ("speaker1", True),
        ("ghost", False),
    ]
    for speaker in speakers[:2]:
        assert speaker.audio is not None
        sid = speaker.audio.sid
        await listener.wait_for("track_muted", lambda _p, publication, sid=sid: publication.sid == sid, since=marks)
    await asyncio.sleep(0.5)  # a wrong mute of the third would have arrived by now as well
    third = speakers[2].audio
    assert third is not None
    assert not [e for e in listener.events_named("track_muted", since=marks) if e.args[1].sid == third.sid]


async def test_a_moderator_of_one_room_cannot_touch_another_through_a_bulk_call(
    stack: Stack, signals: SignalPool
) -> None:
    mine, theirs = unique("bulk-mine"), unique("bulk-theirs")
    await signals.join_all([(theirs, "v1"), (theirs, "v2")])
    moderator = bearer("host", ["moderator"], [mine])
    for path in ("kick", "mute", "ban"):
        response = await rest(stack.a, "POST", f"/room/{theirs}/participants/{path}", moderator, identities="v1,v2")
        assert response.status_code == 403, response.text
        assert response.json()["meta"]["error"] == "forbidden"
    refused = await rest(
        stack.a,
        "POST",
        f"/room/{theirs}/participants/permissions",
        moderator,
        identities="v1",
        permission='{"can_publish": false}',
    )
    assert refused.status_code == 403
    for mutation in (
        f'kickParticipants(room: "{theirs}", identities: ["v1", "v2"]) {{ ok }}',
        f'muteParticipants(room: "{theirs}", identities: ["v1"]) {{ ok }}',
        f'updateParticipantsPermissions(room: "{theirs}", identities: ["v1"], permission: {{canPublish: false}})'
        " { ok }",
        f'banParticipants(room: "{theirs}", identities: ["v1"]) {{ ok }}',
    ):
        body = await graphql(stack.a, f"mutation {{ {mutation} }}", moderator)
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"], body
    assert await identities_in(stack, theirs) == {"v1", "v2"}
    # A token for v1 is still given: nobody was banned.
    await mint(stack.a, "v1", theirs)


async def test_the_maximum_is_enforced_on_both_faces(stack: Stack) -> None:
    room = unique("bulk-max")
    await rest(stack.a, "POST", "/room/", room=room)
    too_many = [f"p{n}" for n in range(1001)]
    response = await rest(stack.a, "POST", f"/room/{room}/participants/kick", identities=",".join(too_many))
    assert response.status_code == 400, response.text
    assert response.json()["meta"]["message"] == "params identities must name at most 1000 identities"
    body = await graphql(stack.a, KICK, r=room, i=too_many)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["param"]) == ("BAD_USER_INPUT", "identities")
    # A thousand (once each, however often named) is allowed: none of them is there.
    body = await graphql(stack.a, KICK, r=room, i=too_many[:1000] + too_many[:5])
    assert [result["ok"] for result in body["data"]["kickParticipants"]] == [False] * 1000
    missing = await rest(stack.a, "POST", f"/room/{room}/participants/kick")
    assert missing.status_code == 400
    assert missing.json()["meta"]["message"] == "params identities is required"


async def presence_of(stack: Stack, identity: str, headers: dict[str, str] = ADMIN, *, on: str = "b") -> list[str]:
    service = stack.b if on == "b" else stack.a
    response = await rest(service, "GET", f"/presence?identities={identity}", headers)
    assert response.status_code == 200, response.text
    [found] = response.json()["data"]["presence"]
    return sorted(stay["room"] for stay in found["rooms"])


async def until_presence(stack: Stack, identity: str, expected: list[str], *, timeout: float) -> float:
    """Seconds until B's presence of `identity` is `expected`."""
    started = time.monotonic()
    while (seen := await presence_of(stack, identity)) != sorted(expected):
        assert time.monotonic() - started < timeout, f"presence still {seen}, not {sorted(expected)}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_presence_finds_one_identity_in_three_rooms_and_follows_a_leave(
    stack: Stack, pool: ParticipantPool, signals: SignalPool, pytestconfig: Any
) -> None:
    rooms = sorted(unique(f"presence{n}") for n in range(3))
    pat = f"pat-{uuid.uuid4().hex[:6]}"
    clients = [await pool.join(await mint(stack.a, pat, room)) for room in rooms]
    joined = await until_presence(stack, pat, rooms, timeout=SWEEP_SECONDS + 2)
    body = await graphql(stack.a, PRESENCE, i=[pat, "nobody-at-all"])
    [found, nobody] = body["data"]["presence"]
    assert [stay["room"] for stay in found["rooms"]] == rooms
    assert all(stay["participantSid"].startswith("PA_") for stay in found["rooms"])
    assert nobody == {"identity": "nobody-at-all", "rooms": []}

    # A moderator of one of them sees only that one; a user none (403).
    moderator = bearer("host", ["moderator"], [rooms[0]])
    assert await presence_of(stack, pat, moderator) == [rooms[0]]
    body = await graphql(stack.a, PRESENCE, moderator, i=[pat])
    assert [stay["room"] for stay in body["data"]["presence"][0]["rooms"]] == [rooms[0]]
    user = await rest(stack.a, "GET", f"/presence?identities={pat}", bearer(pat, ["user"]))
    assert user.status_code == 403

    # An rtc client leaves: LiveKit's webhook reaches A, and B hears of it through Redis.
    await clients[1].aclose()
    left = await until_presence(stack, pat, [rooms[0], rooms[2]], timeout=SWEEP_SECONDS + 2)

    # A signal-only client (LiveKit sends no webhook for it) joins and leaves: found by the sweep.
    quiet = unique("presence-quiet")
    await signals.join_all([(quiet, pat)])
    found_quiet = await until_presence(stack, pat, [rooms[0], rooms[2], quiet], timeout=SWEEP_SECONDS + 2)
    await signals.leave_all()
    gone_quiet = await until_presence(stack, pat, [rooms[0], rooms[2]], timeout=SWEEP_SECONDS + 2)
    report(
        pytestconfig,
        "presence",
        [
            f"3 rtc joins known on B after {joined:.2f} s; an rtc leave (webhook) after {left:.2f} s",
            f"a signal-only join (no webhook; sweep {SWEEP_SECONDS:g} s) after {found_quiet:.2f} s,"
            f" its leave after {gone_quiet:.2f} s",
        ],
    )
    # The documented bound: within the sweep interval (and the sweep's own listing), sooner with webhooks.
    assert left < SWEEP_SECONDS + 1, left
    assert gone_quiet < SWEEP_SECONDS + 1, gone_quiet


async def test_presence_input_is_bounded(stack: Stack) -> None:
    many = ",".join(f"p{n}" for n in range(1001))
    response = await rest(stack.a, "GET", f"/presence?identities={many}")
    assert response.status_code == 400
    assert response.json()["meta"]["message"].startswith("params identities ")
    missing = await rest(stack.a, "GET", "/presence")
    assert missing.status_code == 400
    assert missing.json()["meta"]["message"] == "params identities is required"
