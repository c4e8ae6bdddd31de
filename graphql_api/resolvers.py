"""The operations of GXRTC API, free of any transport.

REST compat and GraphQL both call these; neither holds logic of its own beyond
turning its input into arguments and the result into its own shape. Nothing
here imports FastAPI or Strawberry. Each operation takes the `Core` and the
calling `Principal` explicitly, checks input, then asks `policy` before it
touches LiveKit; every change is written to the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livekit.protocol import models
from livekit.protocol import room as room_proto

from . import grants, policy
from .audit import audited
from .auth import Authenticator, Principal
from .changes import change_id, room_may_be_new
from .errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    ParticipantNotFound,
    RoomNotFound,
    TrackNotFound,
)
from .events import Broker, EventKind, RoomEvent
from .livekit import LiveKit
from .permissions import merge_permission
from .room_cache import FlightCache
from .settings import Settings
from .tokens import JoinToken, TokenMinter
from .validation import check_count, check_name, check_text, check_unicode

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
    "room_events",
    "update_participant",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Core:
    """The long-lived objects every operation needs, built once per process."""

    settings: Settings
    livekit: LiveKit
    minter: TokenMinter
    authenticator: Authenticator
    broker: Broker
    participants: FlightCache[str, list[models.ParticipantInfo]]
    """Participants by room, for overviews (rooms with their participants): bounded, single-flight, short-lived."""
    room_lists: FlightCache[tuple[str, ...] | None, list[models.Room]]
    """ListRooms answers by the names asked for (None: all), for the same overviews."""

    def forget(self, room: str | None) -> None:
        """`room` changed (None: anything may have): drop what the overview caches hold of it.

        Any room listing may now be wrong (a room's count, a new or closed room), so all of them go.
        """
        self.participants.invalidate(room)
        self.room_lists.invalidate(None)


# Tokens


async def create_token(
    core: Core,
    principal: Principal,
    *,
    room: str | None,
    identity: str | None,
    name: str | None = None,
    ttl_seconds: int | None = None,
    can_publish_sources: Sequence[str] | None = None,
    hidden: bool = False,
) -> JoinToken:
    identity = check_name(identity, "identity")
    room = check_name(room, "room")
    if name:
        name = check_name(name, "name")
    policy.require_token_for(principal, identity)
    sources = grants.token_sources(principal, core.settings, hidden=hidden, asked=can_publish_sources)
    ceiling = policy.token_ttl_ceiling(principal, core.settings)
    ttl = check_count(ttl_seconds, "ttl_seconds", minimum=1, maximum=ceiling)
    return core.minter.mint(
        identity=identity,
        room=room,
        ttl_seconds=ttl or min(core.settings.token_ttl_seconds, ceiling),
        name=name,
        can_publish_sources=sources,
        hidden=hidden,
    )


# Rooms


async def create_room(
    core: Core,
    principal: Principal,
    *,
    name: str | None,
    empty_timeout: int | None = None,
    departure_timeout: int | None = None,
    max_participants: int | None = None,
    metadata: str | None = None,
) -> models.Room:
    name = check_name(name, "room")
    request = room_proto.CreateRoomRequest(name=name)
    # Unset fields stay unset so LiveKit applies its configured room defaults.
    if check_count(empty_timeout, "empty_timeout") is not None:
        request.empty_timeout = empty_timeout  # type: ignore[assignment]
    if check_count(departure_timeout, "departure_timeout") is not None:
        request.departure_timeout = departure_timeout  # type: ignore[assignment]
    if check_count(max_participants, "max_participants") is not None:
        request.max_participants = max_participants  # type: ignore[assignment]
    if metadata is not None:
        request.metadata = check_text(metadata, "metadata", core.settings.max_metadata_bytes)
    async with audited(principal, "create_room", name):
        policy.require_moderator(principal, name)
        room = await core.livekit.create_room(request)
    if room_may_be_new(room):
        await _emit(core, principal, "room_started", name, event_id=change_id("room_started", name, room_sid=room.sid))
    return room


async def list_rooms(
    core: Core, principal: Principal, names: list[str] | None = None, *, overview: bool = False
) -> list[models.Room]:
    """The rooms the caller may see. With `overview`, for a listing of rooms with their
    participants: from the overview cache, as fresh as their participants (see room_cache)."""
    if names is not None:
        names = [check_name(name, "names") for name in names]
    readable = policy.readable_rooms(principal, core.settings)
    if readable is not None:
        if not readable:
            raise Forbidden("you may not list rooms")
        # A moderator sees the rooms it runs, and no others.
        names = sorted(readable if names is None else readable.intersection(names))
    if names is not None and not names:
        return []
    if overview:
        # The key is what the policy left, so callers who may see different rooms never share an answer.
        return await core.room_lists.get(tuple(names) if names is not None else None)
    return await core.livekit.list_rooms(names)


async def get_room(core: Core, principal: Principal, name: str | None) -> models.Room:
    name = check_name(name, "room")
    policy.require_reader(principal, core.settings, name)
    return await _existing_room(core, name)


async def _existing_room(core: Core, name: str) -> models.Room:
    rooms = await core.livekit.list_rooms([name])
    if not rooms:
        raise RoomNotFound(name)
    return rooms[0]


async def delete_room(core: Core, principal: Principal, name: str | None) -> models.Room:
    name = check_name(name, "room")
    async with audited(principal, "delete_room", name):
        policy.require_moderator(principal, name)
        # LiveKit's DeleteRoom answers with nothing, and the document returns the
        # deleted room, so it is read first; that read is also what makes a
        # missing room a 404 rather than a silent success.
        room = await _existing_room(core, name)
        try:
            await core.livekit.delete_room(room.name)
        except NotFound:
            raise RoomNotFound(room.name) from None
    await _emit(core, principal, "room_finished", name, event_id=change_id("room_finished", name, room_sid=room.sid))
    return room


# Participants


async def _missing(core: Core, room: str, identity: str) -> NotFound:
    # LiveKit says "participant does not exist" whether or not the room does;
    # callers deserve to know which of the two is missing.
    if not await core.livekit.list_rooms([room]):
        return RoomNotFound(room)
    return ParticipantNotFound(room, identity)


async def list_participants(core: Core, principal: Principal, room: str | None) -> list[models.ParticipantInfo]:
    room = check_name(room, "room")
    policy.require_reader(principal, core.settings, room)
    participants = await core.livekit.list_participants(room)
    # LiveKit lists a missing room as an empty one; only then is it worth asking which.
    if not participants and not await core.livekit.list_rooms([room]):
        raise RoomNotFound(room)
    return participants


async def list_participants_of_rooms(
    core: Core, principal: Principal, rooms: Sequence[str]
) -> list[list[models.ParticipantInfo]]:
    """Participants of many rooms at once, concurrently within the fan-out bound, from the participant cache.

    Each room is authorized like any read (so `Room.participants`, wherever its
    room came from, asks the same policy as `participants(room)`). The rooms come
    from a listing just made, so a room closed in between is simply empty rather
    than an error.
    """
    for room in rooms:
        policy.require_reader(principal, core.settings, room)
    return await core.participants.get_many(list(rooms))


async def get_participant(
    core: Core, principal: Principal, room: str | None, identity: str | None
) -> models.ParticipantInfo:
    room = check_name(room, "room")
    identity = check_name(identity, "identity")
    policy.require_reader(principal, core.settings, room)
    return await _participant(core, room, identity)


async def _participant(core: Core, room: str, identity: str) -> models.ParticipantInfo:
    try:
        return await core.livekit.get_participant(room, identity)
    except NotFound:
        raise await _missing(core, room, identity) from None


async def kick_participant(core: Core, principal: Principal, room: str | None, identity: str | None) -> None:
    room = check_name(room, "room")
    identity = check_name(identity, "identity")
    async with audited(principal, "kick", room, identity):
        policy.require_moderator(principal, room)
        # Who is kicked, by sid: LiveKit's webhook reports the same leave, and the two must be one event.
        try:
            leaving = await core.livekit.get_participant(room, identity)
        except NotFound:
            leaving = models.ParticipantInfo(identity=identity)  # RemoveParticipant answers for the 404
        try:
            await core.livekit.remove_participant(room, identity)
        except NotFound:
            raise await _missing(core, room, identity) from None
    change = change_id("participant_left", room, participant=leaving)
    await _emit(core, principal, "participant_left", room, participant=leaving, event_id=change)


async def mute_participant(
    core: Core,
    principal: Principal,
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
    identity = check_name(identity, "identity")
    if track_sid is not None:
        check_name(track_sid, "track_sid")
    wanted = _source_number(source) if source is not None else models.TrackSource.MICROPHONE
    action = "mute" if muted else "unmute"
    async with audited(principal, action, room, identity, track_sid=track_sid, source=source):
        policy.require_moderator(principal, room)
        participant = await _participant(core, room, identity)
        if track_sid is not None:
            tracks = [track for track in participant.tracks if track.sid == track_sid]
            if not tracks:
                # LiveKit itself answers success for a track that does not exist.
                raise TrackNotFound(participant.identity, track_sid)
        else:
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
    kind: EventKind = "track_muted" if muted else "track_unmuted"
    for track in changed:
        await _emit(core, principal, kind, room, participant=participant, track=track)
    return participant


def _source_number(source: str) -> int:
    try:
        return models.TrackSource.Value(source.upper())
    except ValueError:
        names = ", ".join(models.TrackSource.keys())
        raise InvalidParameter("source", f"must be one of {names}") from None


def _check_attributes(attributes: Any, settings: Settings) -> dict[str, str]:
    if not isinstance(attributes, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()
    ):
        raise InvalidParameter("attributes", 'must be a JSON object of strings, like {"nickname":"rick"}')
    if any(key == "" for key in attributes):
        raise InvalidParameter("attributes", "must not have an empty key")
    for key, value in attributes.items():
        check_unicode(key, "attributes")
        check_unicode(value, "attributes")
    size = sum(len(key.encode()) + len(value.encode()) for key, value in attributes.items())
    if size > settings.max_attributes_bytes:
        raise InvalidParameter("attributes", f"must be at most {settings.max_attributes_bytes} bytes in all")
    return dict(attributes)


async def update_participant(
    core: Core,
    principal: Principal,
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
        request.metadata = check_text(metadata, "metadata", core.settings.max_metadata_bytes)
    if attributes is not None:
        request.attributes.update(_check_attributes(attributes, core.settings))
    if name is not None:
        request.name = check_name(name, "name")
    if permission is not None and not isinstance(permission, Mapping):
        raise InvalidParameter("permission", "must be a JSON object")
    changed = sorted(
        key
        for key, value in (
            ("metadata", metadata),
            ("attributes", attributes),
            ("name", name),
            ("permission", permission),
        )
        if value is not None
    )
    async with audited(principal, "update_participant", room, identity, changed=changed):
        policy.require_moderator(principal, room)
        if permission is not None:
            grants.require_grantable(principal, core.settings, permission)
            current = await _participant(core, room, identity)
            request.permission.CopyFrom(merge_permission(current.permission, permission))
        try:
            updated = await core.livekit.update_participant(request)
        except NotFound:
            raise await _missing(core, room, identity) from None
    await _emit(core, principal, "participant_updated", room, participant=updated)
    if permission is not None:
        await _emit(core, principal, "permissions_changed", room, participant=updated)
    return updated


# Events


async def _emit(
    core: Core,
    principal: Principal,
    kind: EventKind,
    room: str,
    *,
    participant: models.ParticipantInfo | None = None,
    track: models.TrackInfo | None = None,
    event_id: str | None = None,
) -> None:
    """Tell subscribers what was done through this API: LiveKit sends no webhook for most of it.

    `event_id`: the change's id where LiveKit reports it too (see changes), so it is delivered once.

    The change itself has happened, so a broker failure is logged, not raised:
    events are at-most-once, and the reconciler repairs what subscribers missed.
    """
    # Before answering, so the caller's next read here sees its own change; other
    # instances drop the room when the event reaches them.
    core.forget(room)
    event = RoomEvent(
        kind=kind,
        room=room,
        id=event_id or uuid.uuid4().hex,
        at=time.time(),
        source="api",
        actor=principal.uid,
        participant=participant,
        track=track,
    )
    try:
        await core.broker.publish(event)
    except Exception:
        log.warning("could not publish %s for room %s; the reconciler will repair it", kind, room, exc_info=True)


async def room_events(core: Core, principal: Principal, room: str | None) -> AsyncIterator[RoomEvent]:
    """A room's events as they happen, starting with a snapshot of who is in it.

    Authorized like reads; every room at once (`room` None) is for admins, or
    for users where reads are open to them. Whenever the subscription lost
    events (a slow consumer, a broker reconnect), a fresh snapshot comes
    first, so the client's picture is whole again.
    """
    if room is None:
        if policy.readable_rooms(principal, core.settings) is not None:
            raise Forbidden("only an admin may follow every room")
    else:
        room = check_name(room, "room")
        policy.require_reader(principal, core.settings, room)
    subscription = core.broker.subscribe(room)
    try:
        if room is not None:
            yield await _snapshot(core, room)
        while True:
            # get() also wakes an idle subscriber the moment it lost events, so its resync
            # snapshot comes at once rather than with the next event.
            event = await subscription.get()
            if subscription.reset_lost() and room is not None:
                yield await _snapshot(core, room)
            if event is not None:
                yield event
            elif subscription.closed:
                return
    finally:
        await subscription.aclose()


async def _snapshot(core: Core, room: str) -> RoomEvent:
    participants = await core.livekit.list_participants(room)
    return RoomEvent(
        kind="snapshot",
        room=room,
        id=uuid.uuid4().hex,
        at=time.time(),
        source="reconcile",
        participants=tuple(participants),
    )
