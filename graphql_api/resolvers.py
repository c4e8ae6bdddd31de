"""The operations of GXRTC API, free of any transport.

REST compat and GraphQL both call these; neither holds logic of its own beyond
turning its input into arguments and the result into its own shape. Nothing
here imports FastAPI or Strawberry. Each operation takes the `Core` explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livekit.protocol import models
from livekit.protocol import room as room_proto

from .errors import Conflict, InvalidParameter, NotFound, ParticipantNotFound, RoomNotFound, TrackNotFound
from .livekit import LiveKit
from .permissions import merge_permission
from .settings import Settings
from .tokens import JoinToken, TokenMinter
from .validation import check_count, check_name

__all__ = [
    "Core",
    "create_room",
    "create_token",
    "delete_room",
    "get_participant",
    "get_room",
    "kick_participant",
    "list_participants",
    "list_participants_of_rooms",
    "list_rooms",
    "mute_participant",
    "update_participant",
]


@dataclass(frozen=True, slots=True)
class Core:
    """The long-lived objects every operation needs, built once per process."""

    settings: Settings
    livekit: LiveKit
    minter: TokenMinter
    fanout_limit: asyncio.Semaphore
    """Bounds the LiveKit calls one fan-out (rooms with their participants) has in flight."""


async def create_token(
    core: Core, *, room: str | None, identity: str | None, name: str | None = None, ttl_seconds: int | None = None
) -> JoinToken:
    identity = check_name(identity, "identity")
    room = check_name(room, "room")
    if name is not None and len(name) > 256:
        raise InvalidParameter("name", "must be at most 256 characters")
    max_ttl = core.settings.token_max_ttl_seconds
    ttl = check_count(ttl_seconds, "ttl_seconds", minimum=1, maximum=max_ttl) or core.settings.token_ttl_seconds
    return core.minter.mint(identity=identity, room=room, ttl_seconds=min(ttl, max_ttl), name=name)


async def create_room(
    core: Core,
    *,
    name: str | None,
    empty_timeout: int | None = None,
    departure_timeout: int | None = None,
    max_participants: int | None = None,
    metadata: str | None = None,
) -> models.Room:
    request = room_proto.CreateRoomRequest(name=check_name(name, "room"))
    # Unset fields stay unset so LiveKit applies its configured room defaults.
    if check_count(empty_timeout, "empty_timeout") is not None:
        request.empty_timeout = empty_timeout  # type: ignore[assignment]
    if check_count(departure_timeout, "departure_timeout") is not None:
        request.departure_timeout = departure_timeout  # type: ignore[assignment]
    if check_count(max_participants, "max_participants") is not None:
        request.max_participants = max_participants  # type: ignore[assignment]
    if metadata is not None:
        request.metadata = metadata
    return await core.livekit.create_room(request)


async def list_rooms(core: Core, names: list[str] | None = None) -> list[models.Room]:
    if names is not None:
        names = [check_name(name, "names") for name in names]
        if not names:
            return []
    return await core.livekit.list_rooms(names)


async def get_room(core: Core, name: str | None) -> models.Room:
    name = check_name(name, "room")
    rooms = await core.livekit.list_rooms([name])
    if not rooms:
        raise RoomNotFound(name)
    return rooms[0]


async def delete_room(core: Core, name: str | None) -> models.Room:
    # LiveKit's DeleteRoom answers with nothing, and the document returns the
    # deleted room, so it is read first; that read is also what makes a
    # missing room a 404 rather than a silent success.
    room = await get_room(core, name)
    try:
        await core.livekit.delete_room(room.name)
    except NotFound:
        raise RoomNotFound(room.name) from None
    return room


# Participants


async def _missing(core: Core, room: str, identity: str) -> NotFound:
    # LiveKit says "participant does not exist" whether or not the room does;
    # callers deserve to know which of the two is missing.
    if not await core.livekit.list_rooms([room]):
        return RoomNotFound(room)
    return ParticipantNotFound(room, identity)


async def list_participants(core: Core, room: str | None) -> list[models.ParticipantInfo]:
    room = check_name(room, "room")
    participants = await core.livekit.list_participants(room)
    # LiveKit lists a missing room as an empty one; only then is it worth asking which.
    if not participants and not await core.livekit.list_rooms([room]):
        raise RoomNotFound(room)
    return participants


async def list_participants_of_rooms(core: Core, rooms: Sequence[str]) -> list[list[models.ParticipantInfo]]:
    """Participants of many rooms at once, concurrently within the fan-out bound.

    The rooms come from a listing just made, so a room closed in between is
    simply empty rather than an error.
    """

    async def one(room: str) -> list[models.ParticipantInfo]:
        async with core.fanout_limit:
            return await core.livekit.list_participants(room)

    return list(await asyncio.gather(*(one(room) for room in rooms)))


async def get_participant(core: Core, room: str | None, identity: str | None) -> models.ParticipantInfo:
    room = check_name(room, "room")
    identity = check_name(identity, "identity")
    try:
        return await core.livekit.get_participant(room, identity)
    except NotFound:
        raise await _missing(core, room, identity) from None


async def kick_participant(core: Core, room: str | None, identity: str | None) -> None:
    room = check_name(room, "room")
    identity = check_name(identity, "identity")
    try:
        await core.livekit.remove_participant(room, identity)
    except NotFound:
        raise await _missing(core, room, identity) from None


async def mute_participant(
    core: Core,
    room: str | None,
    identity: str | None,
    *,
    muted: bool = True,
    track_sid: str | None = None,
    source: str | None = None,
) -> models.ParticipantInfo:
    """Mute or unmute a participant's published tracks.

    LiveKit mutes one track at a time, by sid. Without `track_sid` or
    `source`, "the participant" means every published microphone track. Tracks
    already in the wanted state are left alone, so repeating a call, or muting
    someone with nothing to mute, succeeds and changes nothing.
    """
    room = check_name(room, "room")
    participant = await get_participant(core, room, identity)
    if track_sid is not None:
        check_name(track_sid, "track_sid")
        tracks = [track for track in participant.tracks if track.sid == track_sid]
        if not tracks:
            # LiveKit itself answers success for a track that does not exist.
            raise TrackNotFound(participant.identity, track_sid)
    else:
        wanted = _source_number(source) if source is not None else models.TrackSource.MICROPHONE
        tracks = [track for track in participant.tracks if track.source == wanted]

    async def apply(track: models.TrackInfo) -> models.TrackInfo:
        try:
            return await core.livekit.mute_track(room, participant.identity, track.sid, muted)
        except NotFound:
            raise await _missing(core, room, participant.identity) from None
        except Conflict as refused:
            if muted:
                raise
            raise Conflict(
                "the media server refuses to unmute remotely; enable room.enable_remote_unmute in its config"
            ) from refused

    changed = await asyncio.gather(*(apply(track) for track in tracks if track.muted != muted))
    by_sid = {track.sid: track for track in changed}
    for track in participant.tracks:
        if track.sid in by_sid:
            track.CopyFrom(by_sid[track.sid])
    return participant


def _source_number(source: str) -> int:
    try:
        return models.TrackSource.Value(source.upper())
    except ValueError:
        names = ", ".join(models.TrackSource.keys())
        raise InvalidParameter("source", f"must be one of {names}") from None


def _check_attributes(attributes: Any) -> dict[str, str]:
    if not isinstance(attributes, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()
    ):
        raise InvalidParameter("attributes", 'must be a JSON object of strings, like {"nickname":"rick"}')
    if any(key == "" for key in attributes):
        raise InvalidParameter("attributes", "must not have an empty key")
    return dict(attributes)


async def update_participant(
    core: Core,
    room: str | None,
    identity: str | None,
    *,
    metadata: str | None = None,
    attributes: Any = None,
    name: str | None = None,
    permission: Any = None,
) -> models.ParticipantInfo:
    """Change a participant's metadata, attributes, name and permissions in one LiveKit call.

    Attributes merge into the current ones, and an empty value deletes its key,
    as in LiveKit. A partial permission is merged into the current one (read,
    merge, write), because LiveKit replaces the whole object.
    """
    room = check_name(room, "room")
    identity = check_name(identity, "identity")
    if metadata is None and attributes is None and name is None and permission is None:
        raise InvalidParameter("attributes", "or metadata is required")
    request = room_proto.UpdateParticipantRequest(room=room, identity=identity)
    if metadata is not None:
        request.metadata = metadata
    if attributes is not None:
        request.attributes.update(_check_attributes(attributes))
    if name is not None:
        request.name = check_name(name, "name")
    if permission is not None:
        if not isinstance(permission, Mapping):
            raise InvalidParameter("permission", "must be a JSON object")
        current = await get_participant(core, room, identity)
        request.permission.CopyFrom(merge_permission(current.permission, permission))
    try:
        return await core.livekit.update_participant(request)
    except NotFound:
        raise await _missing(core, room, identity) from None
