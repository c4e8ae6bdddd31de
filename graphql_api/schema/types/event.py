"""A room event as subscribers get it; its kinds and sources are the core's vocabularies (core/events/model.py)."""

from __future__ import annotations

import datetime
from typing import get_args

import strawberry

from ...core.events import EventKind as EventKindData
from ...core.events import EventSource as EventSourceData
from ...core.events import RoomEvent as RoomEventData
from .participant import Participant, Track
from .scalars import Int64, TrackSource, string_enum

__all__ = ["EventSource", "RoomEvent", "RoomEventKind"]


RoomEventKind = string_enum(
    "RoomEventKind",
    {kind.upper(): kind for kind in get_args(EventKindData)},
    "What happened. SNAPSHOT comes first, and again after the subscription lost events.",
)
EventSource = string_enum(
    "EventSource",
    {source.upper(): source for source in get_args(EventSourceData)},
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
        description=(
            "PARTICIPANT_BANNED: the ban's reason; PARTICIPANT_REFUSED: why (banned, room locked);"
            ' TRACK_MUTED: "muted all" when a mute-all muted it.'
        ),
    )
    until: datetime.datetime | None = strawberry.field(
        default=None, description="PARTICIPANT_BANNED: when the ban ends; null: until unbanned."
    )
    identities: list[str] = strawberry.field(
        default_factory=list, description="MESSAGE_SENT: to whom (empty: everyone); ROOM_MUTED_ALL: who is excepted."
    )
    sources: list[TrackSource] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="ROOM_MUTED_ALL: the sources kept muted."
    )
    topic: str | None = strawberry.field(default=None, description="MESSAGE_SENT: its topic (never its payload).")
    metadata: str | None = strawberry.field(default=None, description="ROOM_METADATA_UPDATED: the room's new one.")

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
            identities=list(event.identities),
            sources=[TrackSource[source.upper()] for source in event.sources],
            topic=event.topic,
            metadata=event.metadata,
        )
