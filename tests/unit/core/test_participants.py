"""Participants' operations over the fake LiveKit: track selection, idempotency, permission merge, 404s, policy."""

from __future__ import annotations

import pytest
from livekit.protocol import models

from graphql_api.core import participants
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.errors import Conflict, Forbidden, InvalidParameter, ParticipantNotFound, RoomNotFound, TrackNotFound

from .conftest import ADMIN, MODERATOR, USER

MIC = models.TrackSource.MICROPHONE
CAMERA = models.TrackSource.CAMERA


def track(sid: str, source: int, muted: bool = False) -> models.TrackInfo:
    return models.TrackInfo(sid=sid, source=source, muted=muted)  # type: ignore[arg-type]


def mutes(service: FakeRoomService) -> list[tuple[str, bool]]:
    return [(request.track_sid, request.muted) for method, request in service.calls if method == "mute_published_track"]


async def test_mute_without_a_track_mutes_every_microphone_and_nothing_else(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "bob", track("TR_mic1", MIC), track("TR_cam", CAMERA), track("TR_mic2", MIC))
    answer = await participants.mute_participant(core, ADMIN, "ours", "bob")
    assert sorted(mutes(service)) == [("TR_mic1", True), ("TR_mic2", True)]
    assert {t.sid: t.muted for t in answer.tracks} == {"TR_mic1": True, "TR_cam": False, "TR_mic2": True}


async def test_mute_is_idempotent(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "bob", track("TR_mic", MIC, muted=True))
    answer = await participants.mute_participant(core, ADMIN, "ours", "bob")
    assert mutes(service) == []  # already muted: LiveKit is not asked again
    assert answer.tracks[0].muted


async def test_mute_by_source_or_by_track(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "bob", track("TR_mic", MIC), track("TR_cam", CAMERA))
    await participants.mute_participant(core, ADMIN, "ours", "bob", source="camera")
    assert mutes(service) == [("TR_cam", True)]
    with pytest.raises(TrackNotFound):
        await participants.mute_participant(core, ADMIN, "ours", "bob", track_sid="TR_nope")
    with pytest.raises(InvalidParameter, match="source"):
        await participants.mute_participant(core, ADMIN, "ours", "bob", source="antenna")


async def test_a_refused_remote_unmute_says_how_to_allow_it(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "bob", track("TR_mic", MIC, muted=True))
    with pytest.raises(Conflict, match="enable_remote_unmute"):
        await participants.mute_participant(core, ADMIN, "ours", "bob", muted=False)
    service.remote_unmute = True
    answer = await participants.mute_participant(core, ADMIN, "ours", "bob", muted=False)
    assert not answer.tracks[0].muted


async def test_a_missing_room_and_a_missing_participant_are_told_apart(core: Core, service: FakeRoomService) -> None:
    service.add_room("ours")
    with pytest.raises(ParticipantNotFound):
        await participants.get_participant(core, ADMIN, "ours", "nobody")
    with pytest.raises(RoomNotFound):
        await participants.get_participant(core, ADMIN, "elsewhere", "nobody")
    with pytest.raises(RoomNotFound):
        await participants.mute_participant(core, ADMIN, "elsewhere", "nobody")
    with pytest.raises(RoomNotFound):
        await participants.list_participants(core, ADMIN, "elsewhere")
    with pytest.raises(ParticipantNotFound):
        await participants.kick_participant(core, ADMIN, "ours", "nobody")


async def test_a_partial_permission_is_merged_into_the_current_one(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "bob")
    updated = await participants.update_participant(core, ADMIN, "ours", "bob", permission={"can_publish": False})
    assert not updated.permission.can_publish
    assert updated.permission.can_subscribe  # untouched, although LiveKit replaces the whole object


async def test_only_a_moderator_of_the_room_may_change_its_participants(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "bob", track("TR_mic", MIC))
    service.add_participant("theirs", "carol", track("TR_mic2", MIC))
    await participants.mute_participant(core, MODERATOR, "ours", "bob")
    for principal, room, identity in ((MODERATOR, "theirs", "carol"), (USER, "ours", "bob")):
        with pytest.raises(Forbidden):
            await participants.mute_participant(core, principal, room, identity)
        with pytest.raises(Forbidden):
            await participants.kick_participant(core, principal, room, identity)
    assert mutes(service) == [("TR_mic", True)]  # the refusals reached no LiveKit call
