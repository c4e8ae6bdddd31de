"""Rooms and participants are converted from LiveKit's messages field by field, on first read.

Whatever is read, and in whatever order, must be what an eager conversion gives.
"""

from __future__ import annotations

import dataclasses

import strawberry
from livekit.protocol import models

from graphql_api.schema.types import (
    Codec,
    Participant,
    ParticipantKind,
    ParticipantPermission,
    ParticipantState,
    Room,
    Track,
    TrackSource,
    TrackType,
)

PROTO_PARTICIPANT = models.ParticipantInfo(
    sid="PA_1",
    identity="alice",
    name="Alice",
    state=models.ParticipantInfo.State.ACTIVE,
    kind=models.ParticipantInfo.Kind.AGENT,
    metadata="m",
    attributes={"role": "host"},
    joined_at=1_700_000_000,
    joined_at_ms=1_700_000_000_123,
    version=7,
    permission=models.ParticipantPermission(can_publish=True, can_publish_sources=[models.TrackSource.CAMERA]),
    tracks=[models.TrackInfo(sid="TR_1", type=models.TrackType.VIDEO, source=models.TrackSource.CAMERA, muted=True)],
    region="eu",
    is_publisher=True,
)


def test_a_participant_reads_as_its_message_says_in_any_order() -> None:
    lazy = Participant.from_proto(PROTO_PARTICIPANT)
    assert lazy.tracks[0].sid == "TR_1"  # a later field first
    assert lazy.identity == "alice"
    assert lazy.state == ParticipantState.ACTIVE  # type: ignore[attr-defined]
    assert lazy.kind == ParticipantKind.AGENT  # type: ignore[attr-defined]
    assert dict(lazy.attributes) == {"role": "host"}  # type: ignore[call-overload]
    assert (lazy.joined_at, lazy.joined_at_ms, lazy.version) == (1_700_000_000, 1_700_000_000_123, 7)
    assert lazy.permission is not None
    assert lazy.permission.can_publish is True
    assert lazy.permission.can_publish_sources == [TrackSource.CAMERA]  # type: ignore[attr-defined]
    assert lazy.tracks[0].type == TrackType.VIDEO  # type: ignore[attr-defined]
    assert lazy.tracks[0].muted is True
    assert (lazy.region, lazy.is_publisher, lazy.name, lazy.metadata, lazy.sid) == ("eu", True, "Alice", "m", "PA_1")


def test_a_lazy_participant_equals_one_built_field_by_field() -> None:
    eager = Participant(
        id=strawberry.ID("PA_1"),
        sid="PA_1",
        identity="alice",
        name="Alice",
        state=ParticipantState.ACTIVE,  # type: ignore[attr-defined]
        kind=ParticipantKind.AGENT,  # type: ignore[attr-defined]
        metadata="m",
        attributes={"role": "host"},  # type: ignore[arg-type]
        joined_at=1_700_000_000,  # type: ignore[arg-type]
        joined_at_ms=1_700_000_000_123,  # type: ignore[arg-type]
        version=7,
        permission=ParticipantPermission.from_proto(PROTO_PARTICIPANT.permission),
        tracks=[Track.from_proto(PROTO_PARTICIPANT.tracks[0])],
        region="eu",
        is_publisher=True,
    )
    assert Participant.from_proto(PROTO_PARTICIPANT) == eager
    assert eager.identity == "alice"  # a constructed one keeps its own values
    assert dataclasses.replace(eager, identity="bob").identity == "bob"


def test_a_participant_without_permission_has_none() -> None:
    assert Participant.from_proto(models.ParticipantInfo(identity="x")).permission is None


def test_a_room_reads_as_its_message_says() -> None:
    room = Room.from_proto(
        models.Room(
            sid="RM_1",
            name="r",
            empty_timeout=300,
            creation_time=1_700_000_000,
            enabled_codecs=[models.Codec(mime="audio/opus"), models.Codec(mime="video/VP8", fmtp_line="x")],
            num_participants=3,
            active_recording=True,
        )
    )
    assert room.enabled_codecs == [Codec(mime="audio/opus", fmtp_line=""), Codec(mime="video/VP8", fmtp_line="x")]
    assert (room.sid, room.name, room.empty_timeout, room.creation_time) == ("RM_1", "r", 300, 1_700_000_000)
    assert room.id == "RM_1"  # what normalized caches (Apollo Client, urql) key on
    assert (room.num_participants, room.active_recording, room.metadata) == (3, True, "")


def test_names_that_are_no_field_are_still_missing() -> None:
    participant = Participant.from_proto(PROTO_PARTICIPANT)
    assert not hasattr(participant, "__await__")
    assert not hasattr(participant, "nonexistent")
