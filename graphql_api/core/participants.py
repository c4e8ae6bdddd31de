"""Participants: list (whole, or a filtered page) and get, kick, mute and unmute tracks, update info and permissions.

A participant LiveKit does not know is told apart from a room it does not know
(`_missing`), since LiveKit answers "participant does not exist" for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livekit.protocol import models
from livekit.protocol import room as room_proto

from ..errors import Conflict, InvalidParameter, NotFound, ParticipantNotFound, RoomNotFound, TrackNotFound
from ..settings import Settings
from . import grants, policy
from .admission import RESERVED_ATTRIBUTE_PREFIX
from .audit import audited
from .auth import Principal
from .changes import change_id
from .events import EventKind
from .paging import Page, cut_page
from .permissions import merge_permission
from .room_events import emit
from .validation import MAX_NAME_LENGTH, check_name, check_text, check_unicode

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "ParticipantFilter",
    "check_attributes",
    "get_participant",
    "kick_participant",
    "list_participants",
    "list_participants_of_rooms",
    "mute_participant",
    "page_participants",
    "update_participant",
]

_STATES = frozenset(models.ParticipantInfo.State.keys())
_KINDS = frozenset(models.ParticipantInfo.Kind.keys())


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


@dataclass(frozen=True, slots=True)
class ParticipantFilter:
    """What a page of participants is narrowed to; empty or None matches everything."""

    states: tuple[str, ...] = ()
    """LiveKit's state names (JOINING, JOINED, ACTIVE, DISCONNECTED): any of them."""
    kinds: tuple[str, ...] = ()
    """LiveKit's kind names (STANDARD, INGRESS, EGRESS, SIP, AGENT): any of them."""
    attribute: tuple[str, str] | None = None
    """(key, value): participants whose attribute `key` is `value`."""
    publishing: bool | None = None
    """Whether the participant publishes at least one track."""

    def check(self) -> None:
        for param, names, known in (("state", self.states, _STATES), ("kind", self.kinds, _KINDS)):
            for name in names:
                if name not in known:
                    raise InvalidParameter(param, f"has an unknown value {name!r}; use {', '.join(sorted(known))}")
        if self.attribute is not None:
            check_text(self.attribute[0], "attribute", MAX_NAME_LENGTH)
            check_text(self.attribute[1], "attribute", MAX_NAME_LENGTH)

    def matches(self, participant: models.ParticipantInfo) -> bool:
        if self.states and models.ParticipantInfo.State.Name(participant.state) not in self.states:
            return False
        if self.kinds and models.ParticipantInfo.Kind.Name(participant.kind) not in self.kinds:
            return False
        if self.attribute is not None:
            key, value = self.attribute
            if key not in participant.attributes or participant.attributes[key] != value:
                return False
        return self.publishing is None or bool(participant.tracks) == self.publishing


async def page_participants(
    core: Core,
    principal: Principal,
    room: str | None,
    *,
    first: int | None = None,
    after: str | None = None,
    filter: ParticipantFilter | None = None,
) -> Page[models.ParticipantInfo]:
    """A page of a room's participants, by identity, from a fresh listing (authorized like any read)."""
    filter = filter or ParticipantFilter()
    filter.check()
    participants = await list_participants(core, principal, room)
    return cut_page(
        (participant for participant in participants if filter.matches(participant)),
        lambda participant: participant.identity,
        kind="participant",
        first=first,
        after=after,
    )


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
    async with audited(core, principal, "kick", room, identity):
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
    await emit(core, principal, "participant_left", room, participant=leaving, event_id=change)


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
    async with audited(core, principal, action, room, identity, track_sid=track_sid, source=source):
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
        await emit(core, principal, kind, room, participant=participant, track=track)
    return participant


def _source_number(source: str) -> int:
    try:
        return models.TrackSource.Value(source.upper())
    except ValueError:
        names = ", ".join(models.TrackSource.keys())
        raise InvalidParameter("source", f"must be one of {names}") from None


def check_attributes(attributes: Any, settings: Settings) -> dict[str, str]:
    """Attributes a caller may set (on a participant, or in its token): strings, bounded, no reserved key."""
    if not isinstance(attributes, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in attributes.items()
    ):
        raise InvalidParameter("attributes", 'must be a JSON object of strings, like {"nickname":"rick"}')
    if any(key == "" for key in attributes):
        raise InvalidParameter("attributes", "must not have an empty key")
    if any(key.startswith(RESERVED_ATTRIBUTE_PREFIX) for key in attributes):
        # Admission trusts these as written by us into the token (who let the participant in).
        raise InvalidParameter("attributes", f"must not set keys starting with {RESERVED_ATTRIBUTE_PREFIX}")
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
        request.attributes.update(check_attributes(attributes, core.settings))
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
    async with audited(core, principal, "update_participant", room, identity, changed=changed):
        policy.require_moderator(principal, room)
        if permission is not None:
            grants.require_grantable(principal, core.settings, permission)
            current = await _participant(core, room, identity)
            request.permission.CopyFrom(merge_permission(current.permission, permission))
        try:
            updated = await core.livekit.update_participant(request)
        except NotFound:
            raise await _missing(core, room, identity) from None
    await emit(core, principal, "participant_updated", room, participant=updated)
    if permission is not None:
        await emit(core, principal, "permissions_changed", room, participant=updated)
    return updated
