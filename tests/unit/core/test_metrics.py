"""The core's metrics: each recording site moves its own series, by the labels it promises.

Metrics are the process's (prometheus-client's global registry), so every test
compares a series before and after what it does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from livekit.api import AccessToken
from prometheus_client import REGISTRY

from graphql_api.core import room_events
from graphql_api.core.events import InProcessBroker, RoomEvent
from graphql_api.core.fake_livekit import FakeRoomService, fake_livekit
from graphql_api.core.livekit import Breaker
from graphql_api.core.minter import TokenMinter
from graphql_api.core.reconcile import Reconciler
from graphql_api.core.services import Core
from graphql_api.core.webhooks import WebhookIntake
from graphql_api.errors import NotFound, Unauthenticated

from .conftest import ADMIN


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@contextmanager
def moved(name: str, **labels: str) -> Iterator[list[float]]:
    """How far a series moved while the block ran (in the list it yields, once the block is done)."""
    before = value(name, **labels)
    delta: list[float] = []
    yield delta
    delta.append(value(name, **labels) - before)


def event(id: str, source: str = "api") -> RoomEvent:
    return RoomEvent(kind="participant_joined", room="r", id=id, at=1.0, source=source)  # type: ignore[arg-type]


async def test_livekit_calls_are_counted_by_method_and_outcome_and_timed() -> None:
    service = FakeRoomService()
    service.add_room("r")
    livekit = fake_livekit(service)
    with (
        moved("gxrtc_livekit_calls_total", method="list_rooms", outcome="ok") as ok,
        moved("gxrtc_livekit_calls_total", method="get_participant", outcome="NotFound") as missing,
        moved("gxrtc_livekit_call_duration_seconds_count", method="list_rooms") as timed,
    ):
        await livekit.list_rooms()
        await livekit.list_rooms(["r"])
        with pytest.raises(NotFound):
            await livekit.get_participant("r", "nobody")
    assert (ok, missing, timed) == ([2.0], [1.0], [2.0])


def test_the_breaker_gauge_follows_the_circuit() -> None:
    breaker = Breaker(threshold=2, cooldown=60)
    breaker.failed()
    assert value("gxrtc_livekit_breaker_open") == 0
    breaker.failed()
    assert value("gxrtc_livekit_breaker_open") == 1
    breaker.succeeded()
    assert value("gxrtc_livekit_breaker_open") == 0


async def test_events_published_deduplicated_delivered_and_dropped() -> None:
    broker = InProcessBroker(queue_size=1)
    subscription = broker.subscribe("r")
    with (
        moved("gxrtc_events_published_total", source="livekit") as published,
        moved("gxrtc_events_deduplicated_total") as deduplicated,
        moved("gxrtc_events_delivered_total") as delivered,
        moved("gxrtc_events_dropped_total") as dropped,
    ):
        await broker.publish(event("a", "livekit"))
        await broker.publish(event("a", "livekit"))  # the same id: not again
        await broker.publish(event("b", "livekit"))  # the queue holds one: "a" is dropped
    assert (published, deduplicated, delivered, dropped) == ([2.0], [1.0], [2.0], [1.0])
    await subscription.aclose()


def test_webhooks_refused_are_counted_by_reason() -> None:
    intake = WebhookIntake("key", "s" * 32, max_age_seconds=300)
    with (
        moved("gxrtc_webhooks_total", result="unsigned") as unsigned,
        moved("gxrtc_webhooks_total", result="bad_signature") as forged,
    ):
        with pytest.raises(Unauthenticated):
            intake.receive(b"{}", None)
        with pytest.raises(Unauthenticated):
            intake.receive(b"{}", "Bearer not-a-jwt")
    assert (unsigned, forged) == ([1.0], [1.0])


def test_token_mints_are_counted() -> None:
    minter = TokenMinter("key", "s" * 32, "ws://lk")
    with moved("gxrtc_tokens_minted_total") as minted:
        for identity in ("a", "b", "c"):
            minter.mint(identity=identity, room="r", ttl_seconds=60)
    assert minted == [3.0]


async def test_reconciler_repairs_and_open_subscriptions(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "alice")
    reconciler = Reconciler(core)
    with moved("gxrtc_subscriptions_open") as opened:
        stream = room_events.room_events(core, ADMIN, "ours")
        await anext(stream)  # the snapshot: the subscription is being served
    with moved("gxrtc_reconciler_repairs_total", kind="participant_joined") as repaired:
        service.add_participant("ours", "bob")  # joined with no webhook: only the reconciler sees it
        await reconciler.reconcile_once()
        await reconciler.reconcile_once()  # nothing new: nothing repaired twice
    with moved("gxrtc_subscriptions_open") as closed:
        await stream.aclose()
    assert (opened, repaired, closed) == ([1.0], [1.0], [-1.0])


def signed(body: bytes, *, secret: str) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return "Bearer " + AccessToken("key", secret).with_sha256(digest).to_jwt()


def test_webhooks_accepted_and_ignored_are_counted() -> None:
    intake = WebhookIntake("key", "s" * 32, max_age_seconds=300)
    joined = json.dumps(
        {"event": "participant_joined", "id": "EV_1", "room": {"name": "r"}, "participant": {"identity": "a"}}
    )
    egress = json.dumps({"event": "egress_started", "id": "EV_2"})
    with (
        moved("gxrtc_webhooks_total", result="accepted") as accepted,
        moved("gxrtc_webhooks_total", result="ignored") as ignored,
        moved("gxrtc_webhooks_total", result="body_mismatch") as mismatched,
    ):
        assert intake.receive(joined.encode(), signed(joined.encode(), secret="s" * 32)) is not None
        assert intake.receive(egress.encode(), signed(egress.encode(), secret="s" * 32)) is None
        with pytest.raises(Unauthenticated):
            intake.receive(b"{}", signed(joined.encode(), secret="s" * 32))
    assert (accepted, ignored, mismatched) == ([1.0], [1.0], [1.0])


def test_no_series_is_labelled_with_a_room_or_an_identity() -> None:
    # What the tests above did with rooms "r" and identities "a", "nobody": none of it is a label value.
    for metric in REGISTRY.collect():
        if not metric.name.startswith("gxrtc_"):
            continue
        for sample in metric.samples:
            assert not {"r", "a", "b", "c", "nobody", "ours", "alice", "bob"} & set(sample.labels.values()), sample
