"""The presence index over the fake LiveKit: the sweep, events between sweeps, the replay during a sweep, policy."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from livekit.protocol import models

from graphql_api.core import participants, presence
from graphql_api.core.auth import Principal, Role
from graphql_api.core.events import EventKind, RoomEvent
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, InvalidParameter, ServiceUnavailable

from .conftest import ADMIN, MODERATOR, USER


def event(kind: EventKind, room: str, identity: str = "", sid: str = "") -> RoomEvent:
    who = models.ParticipantInfo(identity=identity, sid=sid, state=models.ParticipantInfo.State.ACTIVE)
    return RoomEvent(
        kind=kind,
        room=room,
        id=f"{kind}-{room}-{identity}-{sid}",
        at=time.time(),
        source="livekit",
        participant=who if identity else None,
    )


def rooms_of(report: presence.PresenceReport) -> dict[str, list[str]]:
    return {found.identity: [stay.room for stay in found.stays] for found in report.presence}


async def test_one_identity_in_three_rooms_is_found_in_all_three(core: Core, service: FakeRoomService) -> None:
    for room in ("a", "b", "ours"):
        service.add_participant(room, "alice")
    service.add_participant("b", "bob")
    await core.presence.sweep(core)
    report = await presence.presence(core, ADMIN, ["alice", "bob", "nobody", "alice"])
    assert rooms_of(report) == {"alice": ["a", "b", "ours"], "bob": ["b"], "nobody": []}
    assert report.swept_at > 0
    # One ListRooms and one ListParticipants per room per sweep; the question itself asks LiveKit nothing.
    calls = len(service.calls)
    await presence.presence(core, ADMIN, ["alice"])
    assert len(service.calls) == calls


async def test_events_keep_the_index_between_sweeps(core: Core, service: FakeRoomService) -> None:
    service.add_participant("a", "alice")
    await core.presence.sweep(core)
    index = core.presence
    index.observe(event("participant_joined", "b", "alice", "PA_b"))
    assert [s.room for s in index.stays("alice")] == ["a", "b"]
    # A leave of an earlier stay does not remove the one who rejoined since.
    index.observe(event("participant_left", "b", "alice", "PA_older"))
    assert [s.room for s in index.stays("alice")] == ["a", "b"]
    index.observe(event("participant_left", "b", "alice", "PA_b"))
    assert [s.room for s in index.stays("alice")] == ["a"]
    index.observe(event("participant_joined", "c", "alice", "PA_c"))
    index.observe(event("participant_banned", "c", "alice"))  # a ban removes, and names no sid
    index.observe(event("room_finished", "a"))
    assert index.stays("alice") == ()


async def test_our_own_kick_is_seen_through_the_broker(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "alice")
    service.add_participant("other", "alice")
    runner = asyncio.create_task(core.presence.run(core, interval=60))
    try:
        await core.presence.wait_ready(2)
        await participants.kick_participant(core, ADMIN, "ours", "alice")
        for _ in range(100):
            if [s.room for s in core.presence.stays("alice")] == ["other"]:
                break
            await asyncio.sleep(0.01)
        assert [s.room for s in core.presence.stays("alice")] == ["other"]
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_a_leave_during_a_sweep_is_not_undone_by_the_listing(core: Core, service: FakeRoomService) -> None:
    service.add_participant("a", "alice")
    listed = asyncio.Event()
    release = asyncio.Event()
    original = service.list_participants

    async def slow(request):  # type: ignore[no-untyped-def]
        answer = await original(request)  # listed while alice is still there
        listed.set()
        await release.wait()
        return answer

    service.list_participants = slow  # type: ignore[method-assign]
    sweeping = asyncio.create_task(core.presence.sweep(core))
    await listed.wait()
    core.presence.observe(event("participant_left", "a", "alice", "PA_alice"))
    release.set()
    await sweeping
    assert core.presence.stays("alice") == ()


async def test_presence_is_authorized_like_reads(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "alice")
    service.add_participant("theirs", "alice")
    await core.presence.sweep(core)
    assert rooms_of(await presence.presence(core, MODERATOR, ["alice"])) == {"alice": ["ours"]}
    with pytest.raises(Forbidden):
        await presence.presence(core, USER, ["alice"])
    # A rooms claim is a moderator's only.
    claimed = Principal(uid="carol", roles=frozenset({Role.USER}), rooms=frozenset({"ours"}))
    with pytest.raises(Forbidden):
        await presence.presence(core, claimed, ["alice"])
    open_reads = dataclasses.replace(core, settings=core.settings.model_copy(update={"users_can_read": True}))
    assert rooms_of(await presence.presence(open_reads, USER, ["alice"])) == {"alice": ["ours", "theirs"]}


async def test_input_is_bounded_and_an_unswept_index_is_unavailable(core: Core) -> None:
    with pytest.raises(InvalidParameter) as refused:
        await presence.presence(core, ADMIN, [f"p{n}" for n in range(presence.MAX_PRESENCE_IDENTITIES + 1)])
    assert refused.value.param == "identities"
    with pytest.raises(InvalidParameter):
        await presence.presence(core, ADMIN, ["bad\x00name"])
    with pytest.raises(InvalidParameter):
        await presence.presence(core, ADMIN, [])
    quick = dataclasses.replace(core, settings=core.settings.model_copy(update={"livekit_timeout_seconds": 0.05}))
    with pytest.raises(ServiceUnavailable):
        await presence.presence(quick, ADMIN, ["alice"])
