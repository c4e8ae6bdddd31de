"""Room events on the wire: an exact round trip, unknown protobuf fields kept, garbage refused with
ValueError only, bad fields refused."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import models

from graphql_api.core.events import (
    RoomEvent,
)
from tests.unit.core.events.support import event, participant, track

# -- the wire -----------------------------------------------------------------------------------


def test_wire_round_trip_is_exact_with_protobuf_fields_and_unicode() -> None:
    original = RoomEvent(
        kind="track_published",
        room="会议室-🚀-1",
        id="EV_ñandú",
        at=1_732_845_123.123456,
        source="api",
        actor="管理员",
        participant=participant(),
        track=track(),
        participants=(participant("甲", sid="PA_2"), participant("b", version=7, sid="PA_3")),
        sequence=1_732_845_123_456_789,
    )
    wire = original.to_wire()
    back = RoomEvent.from_wire(wire)

    assert back == original
    assert back.participant is not None
    assert original.participant is not None
    assert back.participant.SerializeToString(deterministic=True) == original.participant.SerializeToString(
        deterministic=True
    )
    assert back.participant.attributes["座位"] == "3"
    assert back.participant.joined_at_ms == 1_732_845_123_456
    assert back.track is not None
    assert back.track.layers[0].bitrate == 2_500_000
    assert [p.identity for p in back.participants] == ["甲", "b"]
    assert back.at == original.at
    assert back.sequence == original.sequence
    # Compact JSON in UTF-8, not \u escapes; the same bytes again when re-encoded.
    text = wire.decode()
    assert "会议室-🚀-1" in text
    assert "管理员" in text
    assert ", " not in text
    assert ": " not in text
    assert json.loads(text)["sequence"] == original.sequence
    assert back.to_wire() == wire
    assert RoomEvent.from_wire(text) == original
    assert RoomEvent.from_wire(bytearray(wire)) == original


def test_wire_keeps_protobuf_fields_this_version_does_not_know() -> None:
    # Field 999, varint 1: what a newer LiveKit might send. It must reach subscribers unchanged.
    raw = participant().SerializeToString() + b"\xb8\x3e\x01"
    newer = models.ParticipantInfo()
    newer.ParseFromString(raw)
    original = event(participant=newer)
    back = RoomEvent.from_wire(original.to_wire())
    assert back.participant is not None
    assert back.participant.SerializeToString().endswith(b"\xb8\x3e\x01")
    assert back == original


def test_wire_of_a_minimal_event_leaves_out_what_is_empty() -> None:
    original = RoomEvent(kind="room_finished", room="r", id="x", at=1.5, source="livekit")
    body = json.loads(original.to_wire())
    assert body == {
        "v": 1,
        "kind": "room_finished",
        "room": "r",
        "id": "x",
        "at": 1.5,
        "source": "livekit",
        "sequence": 0,
    }
    assert RoomEvent.from_wire(original.to_wire()) == original


def test_wire_round_trip_of_the_room_itself_and_mute_all() -> None:
    for original in (
        RoomEvent(kind="message_sent", room="r", id="m", at=1.0, source="api", identities=("a", "宝"), topic="why"),
        RoomEvent(kind="room_muted_all", room="r", id="u", at=1.0, source="api", sources=("microphone", "camera")),
        RoomEvent(kind="room_metadata_updated", room="r", id="d", at=1.0, source="api", metadata='{"x": "日"}'),
        RoomEvent(kind="room_metadata_updated", room="r", id="e", at=1.0, source="api", metadata=""),
    ):
        assert RoomEvent.from_wire(original.to_wire()) == original


def _valid_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(event(id="E1", participant=participant()).to_wire())
    return body


def _with(**changes: Any) -> bytes:
    body = _valid_body()
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body).encode()


GARBAGE: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"participant_joined room-1"),
    ("invalid utf-8", b'{"v":1,"kind":"\xff"}'),
    ("json array", b"[1, 2]"),
    ("json null", b"null"),
    ("json string", b'"snapshot"'),
    ("deeply nested", b"[" * 100_000 + b"]" * 100_000),
    ("no version", _with(v=...)),
    ("future version", _with(v=2)),
    ("unknown kind", _with(kind="room_exploded")),
    ("kind not a string", _with(kind=3)),
    ("unknown source", _with(source="carrier-pigeon")),
    ("no room", _with(room=...)),
    ("empty room", _with(room="")),
    ("empty id", _with(id="")),
    ("id not a string", _with(id=12)),
    ("at a string", _with(at="yesterday")),
    ("at a boolean", _with(at=True)),
    ("at NaN", _with(at="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"NaN")),
    ("at infinite", _with(at="PLACEHOLDER").replace(b'"PLACEHOLDER"', b"1e999")),
    ("no sequence", _with(sequence=...)),
    ("negative sequence", _with(sequence=-1)),
    ("fractional sequence", _with(sequence=1.5)),
    ("actor not a string", _with(actor=["root"])),
    ("participant not base64", _with(participant="!!not base64!!")),
    ("participant not a protobuf", _with(participant=base64.b64encode(b"\xff\xff\xff\xff").decode())),
    ("participant a number", _with(participant=5)),
    ("track an object", _with(track={"sid": "TR_1"})),
    ("participants not a list", _with(participants="PA_1")),
    ("participants with a null", _with(participants=[None])),
    ("identities not a list", _with(identities="a")),
    ("identities with a number", _with(identities=["a", 1])),
    ("sources with a null", _with(sources=[None])),
    ("topic a number", _with(topic=3)),
    ("metadata an object", _with(metadata={"a": 1})),
]


@pytest.mark.parametrize(("case", "data"), GARBAGE, ids=[case for case, _ in GARBAGE])
def test_from_wire_refuses_garbage_with_value_error(case: str, data: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        RoomEvent.from_wire(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_from_wire_raises_only_value_error_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        RoomEvent.from_wire(data)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_from_wire_raises_only_value_error_on_corrupted_events(position: int, byte: int) -> None:
    wire = bytearray(event(id="E1", participant=participant(), track=track()).to_wire())
    wire[position % len(wire)] = byte
    try:
        back = RoomEvent.from_wire(bytes(wire))
    except ValueError:
        return
    assert isinstance(back, RoomEvent)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "nope"},
        {"source": "elsewhere"},
        {"room": ""},
        {"id": ""},
        {"at": float("nan")},
        {"at": float("inf")},
        {"sequence": -1},
        {"participants": [participant()]},  # a list, not a tuple
        {"participant": track()},
    ],
)
def test_an_event_refuses_bad_fields(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {"kind": "room_started", "room": "r", "id": "x", "at": 1.0, "source": "api"}
    values.update(fields)
    with pytest.raises(ValueError, match=r"."):
        RoomEvent(**values)


def test_an_event_is_hashable_and_takes_integer_seconds() -> None:
    one = event(id="same", participant=participant(), at=1_700_000_000)
    assert isinstance(one.at, float)
    assert one.at == 1_700_000_000.0
    assert len({one, RoomEvent.from_wire(one.to_wire())}) == 1
