"""Reports of one change share one event id, so the broker delivers the first and drops the rest."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import pytest
from livekit import api
from livekit.protocol import models

from graphql_api.core.changes import change_id, room_may_be_new
from graphql_api.core.events import InProcessBroker, RoomEvent
from graphql_api.core.reconcile import Reconciler
from graphql_api.core.services import Core
from graphql_api.core.webhooks import WebhookIntake

KEY, SECRET = "devkey", "a-webhook-secret-0123456789abcdefghijkl"


def delivered_webhook(event: str, **fields: object) -> RoomEvent:
    body = json.dumps(
        {"event": event, "id": f"EV_{uuid.uuid4().hex[:12]}", "createdAt": str(int(time.time())), **fields}
    ).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(KEY, SECRET).with_sha256(digest).to_jwt()
    received = WebhookIntake(KEY, SECRET, max_age_seconds=300).receive(body, f"Bearer {token}")
    assert received is not None
    return received


def ours(kind: str, room: str, event_id: str | None, **fields: object) -> RoomEvent:
    return RoomEvent(kind=kind, room=room, id=event_id or uuid.uuid4().hex, at=time.time(), source="api", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("webhook_first", [True, False])
async def test_a_kick_and_its_webhook_are_one_event_whichever_comes_first(webhook_first: bool) -> None:
    leaving = models.ParticipantInfo(identity="alice", sid="PA_alice1")
    webhook = delivered_webhook(
        "participant_left", room={"name": "r", "sid": "RM_1"}, participant={"identity": "alice", "sid": "PA_alice1"}
    )
    api_event = ours(
        "participant_left", "r", change_id("participant_left", "r", participant=leaving), participant=leaving
    )
    broker = InProcessBroker()
    subscription = broker.subscribe("r")
    first, second = (webhook, api_event) if webhook_first else (api_event, webhook)
    published = await broker.publish(first)
    assert published is not None
    assert await broker.publish(second) is None
    # The abort LiveKit may send besides is the same leave too.
    aborted = delivered_webhook(
        "participant_connection_aborted", room={"name": "r"}, participant={"identity": "alice", "sid": "PA_alice1"}
    )
    assert await broker.publish(aborted) is None
    assert await subscription.get() == published
    await broker.aclose()


async def test_distinct_changes_stay_distinct() -> None:
    first_stay = models.ParticipantInfo(identity="alice", sid="PA_1")
    second_stay = models.ParticipantInfo(identity="alice", sid="PA_2")  # rejoined: a new participant
    ids = {
        change_id("participant_left", "r", participant=first_stay),
        change_id("participant_left", "r", participant=second_stay),
        change_id("participant_joined", "r", participant=first_stay),
        change_id("participant_left", "other", participant=first_stay),
        change_id("room_started", "r", room_sid="RM_1"),
        change_id("room_started", "r", room_sid="RM_2"),  # reopened under its name
        change_id("room_finished", "r", room_sid="RM_1"),
        change_id("track_published", "r", track=models.TrackInfo(sid="TR_1")),
    }
    assert len(ids) == 8
    assert None not in ids


def test_what_has_no_sid_has_no_change_id() -> None:
    assert change_id("participant_left", "r", participant=models.ParticipantInfo(identity="ghost")) is None
    assert change_id("room_started", "r") is None
    # Our own updates are each a change of their own: only the reconciler's are keyed by version.
    assert change_id("participant_updated", "r", participant=models.ParticipantInfo(sid="PA_1")) is None


def test_an_old_room_that_create_room_returns_opened_nothing() -> None:
    assert room_may_be_new(models.Room(name="r", creation_time=int(time.time()) - 5))
    assert not room_may_be_new(models.Room(name="r", creation_time=int(time.time()) - 3600))


def test_the_reconciler_does_not_repeat_a_mute_the_subscribers_were_told_of(core: Core) -> None:
    track = models.TrackInfo(sid="TR_a", source=models.TrackSource.MICROPHONE, muted=False)
    before = models.ParticipantInfo(identity="alice", sid="PA_a", version=3, tracks=[track])
    reconciler = Reconciler(core)
    assert reconciler.diff("r", [before]) == []
    told = models.ParticipantInfo()
    told.CopyFrom(before)
    told.tracks[0].muted = True  # the mute's event: the participant as read before, its track as muted
    reconciler.observe(ours("track_muted", "r", None, participant=told, track=told.tracks[0]))
    now = models.ParticipantInfo()
    now.CopyFrom(told)
    now.version = 5  # LiveKit counted the mute
    assert reconciler.diff("r", [now]) == []
    # A change nobody announced (the client's own metadata) is repaired, once across reconcilers.
    changed = models.ParticipantInfo()
    changed.CopyFrom(now)
    changed.version, changed.metadata = 6, "self-set"
    repairs = reconciler.diff("r", [changed])
    assert [event.kind for event in repairs] == ["participant_updated"]
    assert repairs[0].id == change_id("participant_updated", "r", participant=changed, with_version=True)
