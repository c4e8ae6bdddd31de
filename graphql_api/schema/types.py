"""Strawberry types: the GraphQL view of LiveKit's rooms and our join tokens."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Iterable
from typing import Any, NewType, get_args

import strawberry
from livekit.protocol import models
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from .._speedups.executor import prefetched
from ..core.events import EventKind as EventKindData
from ..core.events import RoomEvent as RoomEventData
from ..core.minter import JoinToken as JoinTokenData
from .context import Info

__all__ = [
    "SCALARS",
    "Codec",
    "Int64",
    "JoinToken",
    "Participant",
    "ParticipantKind",
    "ParticipantPermission",
    "ParticipantPermissionInput",
    "ParticipantState",
    "Room",
    "RoomEvent",
    "Track",
    "TrackSource",
    "TrackType",
]


def _parse_int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Int64 must be an integer or a string of digits")
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError("Int64 out of range")
    return number


Int64 = NewType("Int64", int)

# GraphQL's Int is 32-bit; LiveKit's timestamps are not. Serialized as a JSON
# number, as the REST face does, since every JavaScript client holds these
# values (seconds and milliseconds since 1970) exactly.
SCALARS: dict[object, ScalarDefinition] = {
    Int64: strawberry.scalar(
        name="Int64",
        serialize=int,
        parse_value=_parse_int64,
        description="A 64-bit signed integer, serialized as a JSON number.",
    )
}


@strawberry.type
class Codec:
    mime: str
    fmtp_line: str

    @classmethod
    def from_proto(cls, codec: models.Codec) -> Codec:
        return cls(mime=codec.mime, fmtp_line=codec.fmtp_line)


def _proto_enum(name: str, proto: object, description: str) -> type[enum.Enum]:
    # Mirrors LiveKit's enum so new LiveKit values need no change here.
    values = {value.name: value.number for value in proto.DESCRIPTOR.values}  # type: ignore[attr-defined]
    mirrored: type[enum.Enum] = enum.Enum(name, values)  # type: ignore[misc]
    return strawberry.enum(mirrored, description=description)


ParticipantState = _proto_enum("ParticipantState", models.ParticipantInfo.State, "Where a participant is in joining.")
ParticipantKind = _proto_enum("ParticipantKind", models.ParticipantInfo.Kind, "What kind of client a participant is.")
TrackType = _proto_enum("TrackType", models.TrackType, "What a track carries.")
TrackSource = _proto_enum("TrackSource", models.TrackSource, "Where a track comes from.")


def _enum_value(kind: type[enum.Enum], number: int) -> enum.Enum:
    try:
        return kind(number)
    except ValueError:
        return next(iter(kind))


@strawberry.type(description="A published track of a participant.")
class Track:
    sid: str
    type: TrackType  # type: ignore[valid-type]
    source: TrackSource  # type: ignore[valid-type]
    name: str
    muted: bool
    width: int
    height: int
    simulcast: bool
    mime_type: str
    mid: str
    stream: str

    @classmethod
    def from_proto(cls, track: models.TrackInfo) -> Track:
        return cls(
            sid=track.sid,
            type=_enum_value(TrackType, track.type),
            source=_enum_value(TrackSource, track.source),
            name=track.name,
            muted=track.muted,
            width=track.width,
            height=track.height,
            simulcast=track.simulcast,
            mime_type=track.mime_type,
            mid=track.mid,
            stream=track.stream,
        )


@strawberry.type(description="What a participant may do in its room.")
class ParticipantPermission:
    can_subscribe: bool
    can_publish: bool
    can_publish_data: bool
    can_publish_sources: list[TrackSource] = strawberry.field(  # type: ignore[valid-type]
        description="When not empty, the only sources the participant may publish."
    )
    hidden: bool
    can_update_metadata: bool
    can_subscribe_metrics: bool
    can_manage_agent_session: bool

    @classmethod
    def from_proto(cls, permission: models.ParticipantPermission) -> ParticipantPermission:
        return cls(
            can_subscribe=permission.can_subscribe,
            can_publish=permission.can_publish,
            can_publish_data=permission.can_publish_data,
            can_publish_sources=[_enum_value(TrackSource, source) for source in permission.can_publish_sources],
            hidden=permission.hidden,
            can_update_metadata=permission.can_update_metadata,
            can_subscribe_metrics=permission.can_subscribe_metrics,
            can_manage_agent_session=permission.can_manage_agent_session,
        )


@strawberry.input(description="A change to a participant's permissions: fields left out keep their current value.")
class ParticipantPermissionInput:
    can_subscribe: bool | None = None
    can_publish: bool | None = None
    can_publish_data: bool | None = None
    can_publish_sources: list[TrackSource] | None = None  # type: ignore[valid-type]
    hidden: bool | None = None
    can_update_metadata: bool | None = None
    can_subscribe_metrics: bool | None = None
    can_manage_agent_session: bool | None = None

    def to_patch(self) -> dict[str, object]:
        patch: dict[str, object] = {}
        for key, value in vars(self).items():
            if value is None:
                continue
            patch[key] = [source.name for source in value] if key == "can_publish_sources" else value
        return patch


@strawberry.type(description="A participant in a room, as LiveKit sees it now.")
class Participant:
    id: strawberry.ID = strawberry.field(
        description="LiveKit's participant sid: unique, and the same for as long as this participant is in its room"
        " (one who rejoins is a new participant). Normalized caches (Apollo Client, urql) key on it."
    )
    sid: str
    identity: str
    name: str
    state: ParticipantState  # type: ignore[valid-type]
    kind: ParticipantKind  # type: ignore[valid-type]
    metadata: str
    attributes: JSON = strawberry.field(description="String keys to string values.")
    joined_at: Int64 = strawberry.field(description="Unix seconds.")
    joined_at_ms: Int64 = strawberry.field(description="Unix milliseconds.")
    version: int = strawberry.field(description="Grows with every change LiveKit makes to this participant.")
    permission: ParticipantPermission | None
    tracks: list[Track]
    region: str
    is_publisher: bool

    @classmethod
    def from_proto(cls, participant: models.ParticipantInfo) -> Participant:
        # Converted field by field on first read (see _FromProto): `rooms { participants
        # { identity } }` lists hundreds of participants, and converting their tracks,
        # permissions and enums up front cost more than the rest of the query.
        converted = cls.__new__(cls)
        converted.__dict__["_proto"] = participant
        return converted


class _FromProto:
    """A field of a type made by `from_proto`, converted from the proto when first read.

    A non-data descriptor: a value in the instance's __dict__ (set by __init__, or by
    the first read) wins over it, so every later read is a plain attribute lookup.
    """

    __slots__ = ("_convert", "_name")

    def __init__(self, name: str, convert: Callable[[Any], object]) -> None:
        self._name = name
        self._convert = convert

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        fields = instance.__dict__
        value = fields[self._name] = self._convert(fields["_proto"])
        return value


_PARTICIPANT_FIELDS: dict[str, Callable[[models.ParticipantInfo], object]] = {
    "id": lambda p: strawberry.ID(p.sid),
    "sid": lambda p: p.sid,
    "identity": lambda p: p.identity,
    "name": lambda p: p.name,
    "state": lambda p: _enum_value(ParticipantState, p.state),
    "kind": lambda p: _enum_value(ParticipantKind, p.kind),
    "metadata": lambda p: p.metadata,
    "attributes": lambda p: JSON(dict(p.attributes)),
    "joined_at": lambda p: Int64(p.joined_at),
    "joined_at_ms": lambda p: Int64(p.joined_at_ms),
    "version": lambda p: p.version,
    "permission": lambda p: ParticipantPermission.from_proto(p.permission) if p.HasField("permission") else None,
    "tracks": lambda p: [Track.from_proto(track) for track in p.tracks],
    "region": lambda p: p.region,
    "is_publisher": lambda p: p.is_publisher,
}


def _convert_lazily(cls: type, fields: dict[str, Callable[[Any], object]]) -> None:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    names = {field.python_name for field in definition.fields if field.base_resolver is None}
    if names != set(fields):
        raise TypeError(f"{cls.__name__}: fields {sorted(names ^ set(fields))} need exactly one converter each")
    for name, convert in fields.items():
        setattr(cls, name, _FromProto(name, convert))


_convert_lazily(Participant, _PARTICIPANT_FIELDS)


@strawberry.type(description="A LiveKit room.")
class Room:
    id: strawberry.ID = strawberry.field(
        description="LiveKit's room sid: unique, and the same for as long as the room is open (a room opened again"
        " under the same name is a new room). Normalized caches (Apollo Client, urql) key on it."
    )
    sid: str
    name: str
    empty_timeout: int = strawberry.field(description="Seconds the room stays open with no one having joined.")
    departure_timeout: int = strawberry.field(description="Seconds the room stays open after the last one left.")
    max_participants: int = strawberry.field(description="0 means no limit.")
    creation_time: Int64 = strawberry.field(description="Unix seconds.")
    creation_time_ms: Int64 = strawberry.field(description="Unix milliseconds.")
    enabled_codecs: list[Codec]
    metadata: str
    num_participants: int
    num_publishers: int
    active_recording: bool

    @strawberry.field(description="Who is in the room now.")
    @prefetched(lambda room: room.__dict__.get("_participants"))
    def participants(self, info: Info) -> list[Participant]:
        # Not async: rooms listed with their participants (see Query.rooms) answer at once,
        # without a coroutine, a task and a DataLoader future per room; any other room
        # returns an awaitable, which graphql-core awaits.
        known: list[Participant] | None = self.__dict__.get("_participants")
        if known is not None:
            return known
        return self._load_participants(info)  # type: ignore[return-value]

    async def _load_participants(self, info: Info) -> list[Participant]:
        participants = await info.context.participants.load(self.name)
        return [Participant.from_proto(participant) for participant in participants]

    def with_participants(self, participants: Iterable[models.ParticipantInfo]) -> Room:
        """This room, with its participants already fetched."""
        self.__dict__["_participants"] = [Participant.from_proto(participant) for participant in participants]
        return self

    @classmethod
    def from_proto(cls, room: models.Room) -> Room:
        # Lazily, like Participant: a room lists about ten codecs that few queries ask for.
        converted = cls.__new__(cls)
        converted.__dict__["_proto"] = room
        return converted


_convert_lazily(
    Room,
    {
        "id": lambda r: strawberry.ID(r.sid),
        "sid": lambda r: r.sid,
        "name": lambda r: r.name,
        "empty_timeout": lambda r: r.empty_timeout,
        "departure_timeout": lambda r: r.departure_timeout,
        "max_participants": lambda r: r.max_participants,
        "creation_time": lambda r: Int64(r.creation_time),
        "creation_time_ms": lambda r: Int64(r.creation_time_ms),
        "enabled_codecs": lambda r: [Codec.from_proto(codec) for codec in r.enabled_codecs],
        "metadata": lambda r: r.metadata,
        "num_participants": lambda r: r.num_participants,
        "num_publishers": lambda r: r.num_publishers,
        "active_recording": lambda r: r.active_recording,
    },
)


def _string_enum(name: str, values: dict[str, str], description: str) -> type[enum.Enum]:
    made: type[enum.Enum] = enum.Enum(name, values)  # type: ignore[misc]
    return strawberry.enum(made, description=description)


RoomEventKind = _string_enum(
    "RoomEventKind",
    {kind.upper(): kind for kind in get_args(EventKindData)},
    "What happened. SNAPSHOT comes first, and again after the subscription lost events.",
)
EventSource = _string_enum(
    "EventSource",
    {"LIVEKIT": "livekit", "API": "api", "RECONCILE": "reconcile"},
    "LIVEKIT: a LiveKit webhook; API: a change made through this service; RECONCILE: found by comparing.",
)


@strawberry.type(description="Something that happened in a room, with the participant as it is now.")
class RoomEvent:
    kind: RoomEventKind  # type: ignore[valid-type]
    room: str
    sequence: Int64 = strawberry.field(
        description="Per-room order across every instance; drop an event whose sequence you have passed."
    )
    at: datetime.datetime
    source: EventSource  # type: ignore[valid-type]
    actor: str | None = strawberry.field(description="Who made the change through this API, when it was one.")
    participant: Participant | None
    track: Track | None
    participants: list[Participant] = strawberry.field(description="Everyone in the room, for SNAPSHOT.")
    reason: str | None = strawberry.field(
        default=None,
        description="PARTICIPANT_BANNED: the ban's reason; PARTICIPANT_REFUSED: why (banned, room locked).",
    )
    until: datetime.datetime | None = strawberry.field(
        default=None, description="PARTICIPANT_BANNED: when the ban ends; null: until unbanned."
    )

    @classmethod
    def from_event(cls, event: RoomEventData) -> RoomEvent:
        return cls(
            kind=RoomEventKind(event.kind),
            room=event.room,
            sequence=Int64(event.sequence),
            at=datetime.datetime.fromtimestamp(event.at, tz=datetime.UTC),
            source=EventSource(event.source),
            actor=event.actor,
            participant=Participant.from_proto(event.participant) if event.participant is not None else None,
            track=Track.from_proto(event.track) if event.track is not None else None,
            participants=[Participant.from_proto(participant) for participant in event.participants],
            reason=event.reason,
            until=datetime.datetime.fromtimestamp(event.until, tz=datetime.UTC) if event.until is not None else None,
        )


@strawberry.type(description="A LiveKit access token that lets one identity join one room.")
class JoinToken:
    token: str
    identity: str
    room: str
    expires_at: datetime.datetime
    url: str = strawberry.field(description="The LiveKit URL a client connects to with this token.")

    @classmethod
    def from_data(cls, data: JoinTokenData) -> JoinToken:
        return cls(
            token=data.token,
            identity=data.identity,
            room=data.room,
            expires_at=datetime.datetime.fromtimestamp(data.expires_at, tz=datetime.UTC),
            url=data.url,
        )
