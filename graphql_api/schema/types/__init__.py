"""Strawberry types: the GraphQL view of LiveKit's rooms and participants, room events and join tokens, one
module each (`room`, `participant`, `event`, `token`), over the scalars and enums (`scalars`), the lazy
conversion of LiveKit's messages (`lazy`) and the per-item result of acts on many (`results`)."""

from __future__ import annotations

from .event import EventSource, RoomEvent, RoomEventKind
from .participant import Participant, ParticipantPermission, ParticipantPermissionInput, Track
from .results import ItemError
from .room import Codec, Room
from .scalars import SCALARS, Int64, ParticipantKind, ParticipantState, TrackSource, TrackType
from .token import JoinToken

__all__ = [
    "SCALARS",
    "Codec",
    "EventSource",
    "Int64",
    "ItemError",
    "JoinToken",
    "Participant",
    "ParticipantKind",
    "ParticipantPermission",
    "ParticipantPermissionInput",
    "ParticipantState",
    "Room",
    "RoomEvent",
    "RoomEventKind",
    "Track",
    "TrackSource",
    "TrackType",
]
