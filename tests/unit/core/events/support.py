"""What the event tests share: participants, tracks and events to publish, and a clock to move by hand."""

from __future__ import annotations

import time
from typing import Any

from livekit.protocol import models

from graphql_api.core.events import (
    RoomEvent,
)


def participant(identity: str = "xtqxk", *, version: int = 1, sid: str = "PA_1") -> models.ParticipantInfo:
    return models.ParticipantInfo(
        sid=sid,
        identity=identity,
        name="小明 🎧",
        state=models.ParticipantInfo.State.ACTIVE,
        metadata='{"角色": "主持人", "emoji": "🦊"}',
        joined_at=1_732_845_123,
        joined_at_ms=1_732_845_123_456,
        version=version,
        permission=models.ParticipantPermission(
            can_subscribe=True,
            can_publish=True,
            can_publish_sources=[models.TrackSource.MICROPHONE, models.TrackSource.CAMERA],
        ),
        attributes={"lang": "zh-CN", "座位": "3", "z": "last", "a": "first"},
        tracks=[
            models.TrackInfo(sid="TR_1", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE, muted=True)
        ],
        kind=models.ParticipantInfo.Kind.STANDARD,
    )


def track() -> models.TrackInfo:
    return models.TrackInfo(
        sid="TR_2",
        type=models.TrackType.VIDEO,
        source=models.TrackSource.CAMERA,
        width=1280,
        height=720,
        name="摄像头",
        layers=[models.VideoLayer(quality=models.VideoQuality.HIGH, width=1280, height=720, bitrate=2_500_000)],
    )


def event(kind: Any = "participant_joined", room: str = "room-1", id: str = "", **fields: Any) -> RoomEvent:
    fields.setdefault("at", 1_732_845_123.456789)
    fields.setdefault("source", "livekit")
    return RoomEvent(kind=kind, room=room, id=id or f"EV_{time.monotonic_ns()}", **fields)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
