"""A participant, its tracks and its permissions, as GraphQL shows them (LiveKit's ParticipantInfo)."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from livekit.protocol import models
from strawberry.scalars import JSON

from .lazy import convert_lazily
from .scalars import Int64, ParticipantKind, ParticipantState, TrackSource, TrackType, enum_value

__all__ = ["Participant", "ParticipantPermission", "ParticipantPermissionInput", "Track"]


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
            type=enum_value(TrackType, track.type),
            source=enum_value(TrackSource, track.source),
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
            can_publish_sources=[enum_value(TrackSource, source) for source in permission.can_publish_sources],
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
        # Converted field by field on first read (see FromProto): `rooms { participants
        # { identity } }` lists hundreds of participants, and converting their tracks,
        # permissions and enums up front cost more than the rest of the query.
        converted = cls.__new__(cls)
        converted.__dict__["_proto"] = participant
        return converted


_PARTICIPANT_FIELDS: dict[str, Callable[[models.ParticipantInfo], object]] = {
    "id": lambda p: strawberry.ID(p.sid),
    "sid": lambda p: p.sid,
    "identity": lambda p: p.identity,
    "name": lambda p: p.name,
    "state": lambda p: enum_value(ParticipantState, p.state),
    "kind": lambda p: enum_value(ParticipantKind, p.kind),
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


convert_lazily(Participant, _PARTICIPANT_FIELDS)
