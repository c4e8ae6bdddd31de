"""The reconciler over the fake LiveKit: what changed after a subscriber's snapshot is repaired, once."""

from __future__ import annotations

from graphql_api.core import room_events
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.reconcile import Reconciler
from graphql_api.core.services import Core

from .conftest import ADMIN


async def test_a_join_between_the_snapshot_and_the_first_comparison_is_announced(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "alice")
    reconciler = Reconciler(core)
    # Closed below so the subscription it holds is released.
    stream = room_events.room_events(core, ADMIN, "ours")
    snapshot = await anext(stream)
    assert [p.identity for p in snapshot.participants] == ["alice"]
    # Joined with no webhook (a lost one, or a participant that never became active): only the
    # reconciler can tell this subscriber, and its first look at the room comes after the snapshot.
    service.add_participant("ours", "bob")
    published = await reconciler.reconcile_once()
    assert [(event.kind, event.participant and event.participant.identity) for event in published] == [
        ("participant_joined", "bob")
    ]
    event = await anext(stream)
    assert (event.kind, event.participant and event.participant.identity) == ("participant_joined", "bob")
    assert await reconciler.reconcile_once() == []  # nothing changed since: nothing repeated
    await stream.aclose()


async def test_a_room_without_a_snapshot_here_is_only_recorded_at_first_look(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "alice")
    reconciler = Reconciler(core)
    subscription = core.broker.subscribe("ours")  # followed, but no snapshot was taken here
    assert await reconciler.reconcile_once() == []
    service.add_participant("ours", "bob")
    assert [event.kind for event in await reconciler.reconcile_once()] == ["participant_joined"]
    await subscription.aclose()
