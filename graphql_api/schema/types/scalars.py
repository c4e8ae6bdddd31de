"""The GraphQL face's scalars and enums: Int64, LiveKit's enums mirrored from their protobuf descriptors
(so a new LiveKit value needs no change here), and enums made from the core's own vocabularies."""

from __future__ import annotations

import enum
from typing import NewType

import strawberry
from livekit.protocol import models
from strawberry.types.scalar import ScalarDefinition

__all__ = [
    "SCALARS",
    "Int64",
    "ParticipantKind",
    "ParticipantState",
    "TrackSource",
    "TrackType",
    "enum_value",
    "string_enum",
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


def proto_enum(name: str, proto: object, description: str) -> type[enum.Enum]:
    # Mirrors LiveKit's enum so new LiveKit values need no change here.
    values = {value.name: value.number for value in proto.DESCRIPTOR.values}  # type: ignore[attr-defined]
    mirrored: type[enum.Enum] = enum.Enum(name, values)  # type: ignore[misc]
    return strawberry.enum(mirrored, description=description)


ParticipantState = proto_enum("ParticipantState", models.ParticipantInfo.State, "Where a participant is in joining.")
ParticipantKind = proto_enum("ParticipantKind", models.ParticipantInfo.Kind, "What kind of client a participant is.")
TrackType = proto_enum("TrackType", models.TrackType, "What a track carries.")
TrackSource = proto_enum("TrackSource", models.TrackSource, "Where a track comes from.")


def enum_value(kind: type[enum.Enum], number: int) -> enum.Enum:
    try:
        return kind(number)
    except ValueError:
        return next(iter(kind))


def string_enum(name: str, values: dict[str, str], description: str) -> type[enum.Enum]:
    made: type[enum.Enum] = enum.Enum(name, values)  # type: ignore[misc]
    return strawberry.enum(made, description=description)
