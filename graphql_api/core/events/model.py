"""Room events as the brokers carry them: kinds, sources, the event itself and its wire form."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, get_args

from google.protobuf.message import DecodeError, Message
from livekit.protocol import models

from ...errors import ServiceUnavailable

EventKind = Literal[
    "snapshot",
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_updated",
    "track_published",
    "track_unpublished",
    "track_muted",
    "track_unmuted",
    "permissions_changed",
    "participant_banned",
    "participant_unbanned",
    "participant_refused",
    "room_locked",
    "room_unlocked",
    "room_muted_all",
    "room_unmuted_all",
    "room_metadata_updated",
    "message_sent",
]
EventSource = Literal["livekit", "api", "reconcile"]
EVENT_KINDS: Final[frozenset[str]] = frozenset(get_args(EventKind))
EVENT_SOURCES: Final[frozenset[str]] = frozenset(get_args(EventSource))

DEFAULT_QUEUE_SIZE: Final = 256
DEFAULT_DEDUPE_TTL: Final = 600.0  # LiveKit retries a webhook for a few minutes at most
DEFAULT_SEQUENCE_TTL: Final = 86400.0
DEFAULT_TIMEOUT: Final = 1.0
DEFAULT_PING_INTERVAL: Final = 1.0
DEFAULT_BACKOFF_MAX: Final = 1.0  # at most this long between reconnect attempts: worst-case resync

_WIRE_VERSION: Final = 1
_MessageT = TypeVar("_MessageT", bound=Message)


class BrokerUnavailable(ServiceUnavailable):
    """Events cannot be published now (Redis is unreachable or did not answer in time, or the broker is closed)."""

    def __init__(self, message: str = "the event broker cannot be reached, try again shortly") -> None:
        super().__init__(message, reason="event broker unavailable", retry_after=1)


# -- the event ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """Something that happened in a room, as subscribers see it.

    Frozen, and one object is shared by every subscriber it is delivered to: do not mutate the
    protobuf messages it holds. Equal events compare equal field by field, protobuf messages included.
    """

    kind: EventKind
    room: str
    id: str  # LiveKit's webhook event id, or a uuid4 hex of ours; what de-duplication goes by
    at: float  # unix seconds when it happened (or was observed)
    source: EventSource
    actor: str | None = None  # who made the change through our API (principal uid); None for LiveKit's own
    participant: models.ParticipantInfo | None = None  # the participant as it is now
    track: models.TrackInfo | None = None
    participants: tuple[models.ParticipantInfo, ...] = ()  # for "snapshot": everyone in the room now
    reason: str | None = None  # a ban's reason, or why a participant was refused ("banned", "room locked")
    until: float | None = None  # when a ban ends (unix seconds); None: until unbanned, or not a ban
    identities: tuple[str, ...] = ()  # message_sent: to whom (empty: everyone); room_muted_all: who is excepted
    sources: tuple[str, ...] = ()  # room_muted_all: the track sources muted (lower-case names)
    topic: str | None = None  # message_sent: the message's topic (the payload is not carried)
    metadata: str | None = None  # room_metadata_updated: the room's new metadata
    sequence: int = 0  # per-room order, assigned by Broker.publish (0 before)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if self.source not in EVENT_SOURCES:
            raise ValueError(f"unknown event source {self.source!r}")
        if not isinstance(self.room, str) or not self.room:
            raise ValueError("an event needs a room name")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("an event needs an id")
        if isinstance(self.at, bool) or not isinstance(self.at, int | float) or not math.isfinite(self.at):
            raise ValueError(f"an event's time must be a finite number of seconds, not {self.at!r}")
        if isinstance(self.at, int):
            object.__setattr__(self, "at", float(self.at))
        if self.actor is not None and not isinstance(self.actor, str):
            raise ValueError("actor must be a string or None")
        if self.participant is not None and not isinstance(self.participant, models.ParticipantInfo):
            raise ValueError("participant must be a livekit ParticipantInfo")
        if self.track is not None and not isinstance(self.track, models.TrackInfo):
            raise ValueError("track must be a livekit TrackInfo")
        if not isinstance(self.participants, tuple) or not all(
            isinstance(p, models.ParticipantInfo) for p in self.participants
        ):
            raise ValueError("participants must be a tuple of livekit ParticipantInfo")
        if self.reason is not None and not isinstance(self.reason, str):
            raise ValueError("reason must be a string or None")
        if self.until is not None and (
            isinstance(self.until, bool) or not isinstance(self.until, int | float) or not math.isfinite(self.until)
        ):
            raise ValueError(f"until must be a finite number of seconds or None, not {self.until!r}")
        for name in ("identities", "sources"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not all(isinstance(value, str) for value in values):
                raise ValueError(f"{name} must be a tuple of strings")
        for name in ("topic", "metadata"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string or None")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int) or self.sequence < 0:
            raise ValueError(f"sequence must be a non-negative integer, not {self.sequence!r}")

    def __hash__(self) -> int:
        # The generated hash would hash the protobuf messages, which are unhashable.
        return hash((self.room, self.id, self.sequence))

    # The wire form is compact JSON. Protobuf messages travel as base64 of their binary encoding, the only
    # form that round-trips exactly (unknown fields of a newer LiveKit included). "sequence" comes last, so
    # the Redis script can put the number it assigns between _wire_parts()'s two halves.

    def _wire_parts(self) -> tuple[str, str]:
        body: dict[str, Any] = {
            "v": _WIRE_VERSION,
            "kind": self.kind,
            "room": self.room,
            "id": self.id,
            "at": self.at,
            "source": self.source,
        }
        if self.actor is not None:
            body["actor"] = self.actor
        if self.participant is not None:
            body["participant"] = _encode_message(self.participant)
        if self.track is not None:
            body["track"] = _encode_message(self.track)
        if self.participants:
            body["participants"] = [_encode_message(p) for p in self.participants]
        if self.reason is not None:
            body["reason"] = self.reason
        if self.until is not None:
            body["until"] = self.until
        if self.identities:
            body["identities"] = list(self.identities)
        if self.sources:
            body["sources"] = list(self.sources)
        if self.topic is not None:
            body["topic"] = self.topic
        if self.metadata is not None:
            body["metadata"] = self.metadata
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text[:-1] + ',"sequence":', "}"

    def to_wire(self) -> bytes:
        """Compact JSON (UTF-8). Raises ValueError if a string is not valid Unicode (a lone surrogate)."""
        head, tail = self._wire_parts()
        return f"{head}{self.sequence}{tail}".encode()

    @classmethod
    def from_wire(cls, data: bytes | bytearray | memoryview | str) -> RoomEvent:
        """The event :meth:`to_wire` wrote. Raises ValueError for anything else."""
        try:
            text = data if isinstance(data, str) else bytes(data).decode()
            obj = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValueError(f"not a room event: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError("not a room event: not a JSON object")
        if obj.get("v") != _WIRE_VERSION:
            raise ValueError(f"not a room event of wire version {_WIRE_VERSION}: v={obj.get('v')!r}")
        actor = obj.get("actor")
        participant = obj.get("participant")
        track = obj.get("track")
        participants = obj.get("participants", [])
        if not isinstance(participants, list):
            raise ValueError("not a room event: participants is not a list")
        at = obj.get("at")
        sequence = obj.get("sequence")
        until = obj.get("until")
        if until is not None and (isinstance(until, bool) or not isinstance(until, int | float)):
            raise ValueError("not a room event: until is not a number")
        if isinstance(at, bool) or not isinstance(at, int | float):
            raise ValueError("not a room event: at is not a number")
        identities = _wire_strings(obj, "identities")
        sources = _wire_strings(obj, "sources")
        if isinstance(sequence, bool) or not isinstance(sequence, int):
            raise ValueError("not a room event: sequence is not an integer")
        return cls(
            kind=_wire_str(obj, "kind"),  # type: ignore[arg-type]  # checked in __post_init__
            room=_wire_str(obj, "room"),
            id=_wire_str(obj, "id"),
            at=float(at),
            source=_wire_str(obj, "source"),  # type: ignore[arg-type]
            actor=None if actor is None else _wire_str(obj, "actor"),
            participant=None if participant is None else _decode_message(models.ParticipantInfo, participant),
            track=None if track is None else _decode_message(models.TrackInfo, track),
            participants=tuple(_decode_message(models.ParticipantInfo, p) for p in participants),
            reason=None if obj.get("reason") is None else _wire_str(obj, "reason"),
            until=None if until is None else float(until),
            identities=identities,
            sources=sources,
            topic=None if obj.get("topic") is None else _wire_str(obj, "topic"),
            metadata=None if obj.get("metadata") is None else _wire_str(obj, "metadata"),
            sequence=sequence,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number here")


def _wire_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"not a room event: {key} is not a string")
    return value


def _wire_strings(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    values = obj.get(key, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValueError(f"not a room event: {key} is not a list of strings")
    return tuple(values)


def _encode_message(message: Message) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


def _decode_message(kind: type[_MessageT], value: object) -> _MessageT:
    if not isinstance(value, str):
        raise ValueError(f"not a room event: a {kind.__name__} must be a base64 string")
    message = kind()
    try:
        message.ParseFromString(base64.b64decode(value, validate=True))
    except (ValueError, DecodeError, RecursionError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"not a room event: bad {kind.__name__}: {exc}") from None
    return message


# -- subscriptions --------------------------------------------------------------------------------
