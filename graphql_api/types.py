"""Strawberry types: the GraphQL view of LiveKit's rooms and our join tokens."""

from __future__ import annotations

import datetime
from typing import NewType

import strawberry
from livekit.protocol import models
from strawberry.types.scalar import ScalarDefinition

from .tokens import JoinToken as JoinTokenData

__all__ = ["SCALARS", "Codec", "Int64", "JoinToken", "Room"]


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


@strawberry.type(description="A LiveKit room.")
class Room:
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

    @classmethod
    def from_proto(cls, room: models.Room) -> Room:
        return cls(
            sid=room.sid,
            name=room.name,
            empty_timeout=room.empty_timeout,
            departure_timeout=room.departure_timeout,
            max_participants=room.max_participants,
            creation_time=Int64(room.creation_time),
            creation_time_ms=Int64(room.creation_time_ms),
            enabled_codecs=[Codec.from_proto(codec) for codec in room.enabled_codecs],
            metadata=room.metadata,
            num_participants=room.num_participants,
            num_publishers=room.num_publishers,
            active_recording=room.active_recording,
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
