"""A LiveKit in memory, beside the real client: it answers the same RoomService calls from its own state.

In the spirit of httpx's `MockTransport`: `fake_livekit()` returns the real
`LiveKit` client (timeouts, retries, the breaker, error translation and
redaction all included) over a room service that keeps rooms and participants
in dictionaries instead of calling a server. So every operation's own logic
(track selection, idempotency, permission merge, 404s, policy) gets fast unit
tests; what LiveKit itself does is tested against a real server in
tests/integration/.

It answers as LiveKit 1.13 does where the operations depend on it:
"participant does not exist" (not_found) whether or not the room exists; a
missing room listed as an empty one; a mute of an unknown track answered with
success; a remote unmute refused unless `remote_unmute`; attributes merged,
an empty value deleting its key; the whole permission replaced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import aiohttp
from google.protobuf.message import Message
from livekit import api
from livekit.protocol import models
from livekit.protocol import room as room_proto

from .livekit import LiveKit

__all__ = ["FakeRoomService", "fake_livekit"]

_M = TypeVar("_M", bound=Message)


def _not_found(message: str) -> api.TwirpError:
    return api.TwirpError("not_found", message, status=404)


@dataclass
class FakeRoomService:
    """LiveKit's RoomService over in-memory rooms; `calls` records each call's method and request."""

    remote_unmute: bool = False
    rooms: dict[str, models.Room] = field(default_factory=dict)
    participants: dict[str, dict[str, models.ParticipantInfo]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    # Set-up, for tests

    def add_room(self, name: str) -> models.Room:
        # As LiveKit does: a room's creation time is set once, when it opens.
        room = self.rooms.setdefault(name, models.Room(name=name, sid=f"RM_{name}", creation_time=int(time.time())))
        self.participants.setdefault(name, {})
        return room

    def add_participant(self, room: str, identity: str, *tracks: models.TrackInfo) -> models.ParticipantInfo:
        self.add_room(room)
        participant = models.ParticipantInfo(
            identity=identity, sid=f"PA_{identity}", state=models.ParticipantInfo.State.ACTIVE, tracks=list(tracks)
        )
        participant.permission.CopyFrom(models.ParticipantPermission(can_subscribe=True, can_publish=True))
        self.participants[room][identity] = participant
        self.rooms[room].num_participants = len(self.participants[room])
        return participant

    # RoomService

    async def create_room(self, request: room_proto.CreateRoomRequest) -> models.Room:
        self.calls.append(("create_room", request))
        room = self.add_room(request.name)
        if request.metadata:
            room.metadata = request.metadata
        return _copy(room)

    async def list_rooms(self, request: room_proto.ListRoomsRequest) -> room_proto.ListRoomsResponse:
        self.calls.append(("list_rooms", request))
        names = set(request.names)
        rooms = [_copy(room) for name, room in sorted(self.rooms.items()) if not names or name in names]
        return room_proto.ListRoomsResponse(rooms=rooms)

    async def delete_room(self, request: room_proto.DeleteRoomRequest) -> room_proto.DeleteRoomResponse:
        self.calls.append(("delete_room", request))
        if self.rooms.pop(request.room, None) is None:
            raise _not_found("room not found")
        self.participants.pop(request.room, None)
        return room_proto.DeleteRoomResponse()

    async def list_participants(
        self, request: room_proto.ListParticipantsRequest
    ) -> room_proto.ListParticipantsResponse:
        self.calls.append(("list_participants", request))
        found = self.participants.get(request.room, {})
        return room_proto.ListParticipantsResponse(participants=[_copy(p) for p in found.values()])

    async def get_participant(self, request: room_proto.RoomParticipantIdentity) -> models.ParticipantInfo:
        self.calls.append(("get_participant", request))
        return _copy(self._participant(request.room, request.identity))

    async def remove_participant(
        self, request: room_proto.RoomParticipantIdentity
    ) -> room_proto.RemoveParticipantResponse:
        self.calls.append(("remove_participant", request))
        self._participant(request.room, request.identity)
        del self.participants[request.room][request.identity]
        return room_proto.RemoveParticipantResponse()

    async def mute_published_track(self, request: room_proto.MuteRoomTrackRequest) -> room_proto.MuteRoomTrackResponse:
        self.calls.append(("mute_published_track", request))
        participant = self._participant(request.room, request.identity)
        if not request.muted and not self.remote_unmute:
            raise api.TwirpError("failed_precondition", "remote unmute not enabled", status=412)
        for track in participant.tracks:
            if track.sid == request.track_sid:
                track.muted = request.muted
                return room_proto.MuteRoomTrackResponse(track=_copy(track))
        return room_proto.MuteRoomTrackResponse(track=models.TrackInfo(sid=request.track_sid))

    async def update_participant(self, request: room_proto.UpdateParticipantRequest) -> models.ParticipantInfo:
        self.calls.append(("update_participant", request))
        participant = self._participant(request.room, request.identity)
        if request.metadata:
            participant.metadata = request.metadata
        if request.name:
            participant.name = request.name
        for key, value in request.attributes.items():
            if value:
                participant.attributes[key] = value
            else:
                participant.attributes.pop(key, None)
        if request.HasField("permission"):
            participant.permission.CopyFrom(request.permission)
        return _copy(participant)

    def _participant(self, room: str, identity: str) -> models.ParticipantInfo:
        found = self.participants.get(room, {}).get(identity)
        if found is None:
            raise _not_found("participant does not exist")
        return found


def _copy(message: _M) -> _M:
    copied = type(message)()
    copied.CopyFrom(message)
    return copied


class _Client:
    """What `LiveKit` uses of `api.LiveKitAPI`: its room service, and closing."""

    def __init__(self, room: FakeRoomService) -> None:
        self.room = room

    async def aclose(self) -> None:
        return None


class _Session:
    async def close(self) -> None:
        return None


def fake_livekit(service: FakeRoomService | None = None, *, timeout: float = 5.0) -> LiveKit:
    """The real client over `service` (a fresh, empty one unless given)."""
    client = _Client(service or FakeRoomService())
    return LiveKit(cast(api.LiveKitAPI, client), cast(aiohttp.ClientSession, _Session()), timeout=timeout)
