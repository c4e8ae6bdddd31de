"""A room, as GraphQL shows it (LiveKit's Room), with its participants loaded for all rooms of a request at once."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry
from livekit.protocol import models

from ..._speedups.executor import prefetched
from ..context import Info
from .lazy import convert_lazily
from .participant import Participant
from .scalars import Int64

__all__ = ["Codec", "Room"]


@strawberry.type
class Codec:
    mime: str
    fmtp_line: str

    @classmethod
    def from_proto(cls, codec: models.Codec) -> Codec:
        return cls(mime=codec.mime, fmtp_line=codec.fmtp_line)


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


convert_lazily(
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
