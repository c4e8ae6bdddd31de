"""Live room events: LiveKit webhooks and our own changes, pushed to GraphQL
subscribers, across instances through Redis, with real clients and a real Redis."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from livekit import api

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import ParticipantPool
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer
from tests.harness.reporting import report
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "events-admin-key-0123456789abcdef0123456789"
ADMIN = f"Bearer {ADMIN_KEY}"
EVENT_FIELDS = (
    "kind room sequence at source actor participant { identity version metadata attributes"
    " tracks { sid muted source } } track { sid muted } participants { identity }"
)
SUBSCRIBE = f"subscription($room: String) {{ roomEvents(room: $room) {{ {EVENT_FIELDS} }} }}"


class Stack:
    """A LiveKit that sends its webhooks to service A; services A and B share one Redis."""

    def __init__(self, livekit: LiveKitServer, redis: RedisServer, a: Service, b: Service) -> None:
        self.livekit, self.redis, self.a, self.b = livekit, redis, a, b

    def ws(self, service: Service, authorization: str | None = ADMIN) -> SubscriptionClient:
        return SubscriptionClient(service.base_url.replace("http", "ws") + "/graphql", authorization)


@contextlib.contextmanager
def events_stack(tmp_path_factory: pytest.TempPathFactory, **settings: str) -> Iterator[Stack]:
    """LiveKit with its webhooks to service A, services A and B on one Redis; `settings` go to both."""
    port_a = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-events"),
        webhook_urls=[f"http://127.0.0.1:{port_a}/webhooks/livekit"],
    )
    redis = RedisServer(workdir=tmp_path_factory.mktemp("redis"))
    livekit.start()
    redis.start()
    try:
        environment = service_settings(
            livekit,
            GXRTC_ADMIN_KEY=ADMIN_KEY,
            GXRTC_REDIS_URL=redis.url,
            GXRTC_RECONCILE_INTERVAL_SECONDS="1",
            **settings,
        )
        with run_service(environment, port=port_a) as a, run_service(environment) as b:
            yield Stack(livekit, redis, a, b)
    finally:
        redis.stop()
        livekit.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with events_stack(tmp_path_factory) as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def token(service: Service, uid: str, room: str) -> str:
    async with httpx.AsyncClient(base_url=service.base_url, headers={"authorization": ADMIN}) as client:
        response = await client.post("/api/v1/room/token", data={"uid": uid, "room": room})
        return str(response.json()["data"]["access_token"])


async def call(service: Service, method: str, path: str, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.api, headers={"authorization": ADMIN}, timeout=15) as client:
        return await client.request(method, path, data=form or None)


async def wait_for(
    client: SubscriptionClient, key: str, kind: str, *, identity: str | None = None, timeout: float = 10
) -> tuple[float, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        at, event = await client.next_event(key, timeout=max(0.1, deadline - time.monotonic()))
        participant = event.get("participant") or {}
        if event["kind"] == kind and (identity is None or participant.get("identity") == identity):
            return at, event


async def test_a_subscriber_sees_every_change_in_order_and_fast(
    stack: Stack, pool: ParticipantPool, room_name: str, request: pytest.FixtureRequest
) -> None:
    latencies: dict[str, float] = {}
    async with stack.ws(stack.b) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        _, snapshot = await subscriber.next_event(key)
        assert snapshot["kind"] == "SNAPSHOT"
        assert snapshot["participants"] == []

        started = time.monotonic()
        alice = await pool.join(await token(stack.a, "alice", room_name), audio=True)
        at, joined = await wait_for(subscriber, key, "PARTICIPANT_JOINED", identity="alice")
        latencies["joined (webhook)"] = at - started
        assert joined["source"] == "LIVEKIT"
        at, published = await wait_for(subscriber, key, "TRACK_PUBLISHED", identity="alice")
        assert alice.audio is not None
        assert published["track"]["sid"] == alice.audio.sid

        started = time.monotonic()
        assert (await call(stack.a, "POST", f"/room/{room_name}/participant/alice/mute")).status_code == 200
        at, muted = await wait_for(subscriber, key, "TRACK_MUTED", identity="alice")
        latencies["muted (api, other instance)"] = at - started
        assert muted["source"] == "API"
        assert muted["actor"] == "key:admin"
        assert muted["track"] == {"sid": alice.audio.sid, "muted": True}

        started = time.monotonic()
        response = await call(stack.a, "POST", f"/room/{room_name}/participant/alice/info", attrs='{"hand":"up"}')
        assert response.status_code == 200
        at, updated = await wait_for(subscriber, key, "PARTICIPANT_UPDATED", identity="alice")
        latencies["attributes (api)"] = at - started
        assert updated["participant"]["attributes"] == {"hand": "up"}

        started = time.monotonic()
        await alice.aclose()
        at, _ = await wait_for(subscriber, key, "PARTICIPANT_LEFT", identity="alice")
        latencies["left (webhook)"] = at - started

        assert all(seconds < 0.5 for seconds in latencies.values()), latencies
        values = sorted(latencies.values())
        report(
            request.config,
            "event latency, action to subscriber",
            [f"{name}: {seconds * 1000:.0f} ms" for name, seconds in latencies.items()]
            + [f"p50 {statistics.median(values) * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"],
        )


async def test_sequences_only_grow(stack: Stack, room_name: str) -> None:
    async with stack.ws(stack.a) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        await subscriber.next_event(key)  # the snapshot
        for index in range(6):
            # Opened and closed in turn, through both instances: six changes (opening a room that is
            # open already is none, see test_event_dedupe).
            service = stack.a if index % 2 else stack.b
            if index % 2:
                response = await call(service, "DELETE", f"/room/{room_name}")
            else:
                response = await call(service, "POST", "/room/", room=room_name, metadata=f"m{index}")
            assert response.status_code == 200
        sequences = [(await subscriber.next_event(key))[1]["sequence"] for _ in range(6)]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == 6


def signed_webhook(livekit: LiveKitServer, body: bytes, *, secret: str | None = None) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(livekit.api_key, secret or livekit.api_secret).with_sha256(digest).to_jwt()


def webhook_body(room: str, *, created_at: int | None = None, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "event": "participant_joined",
            "id": event_id or f"EV_{uuid.uuid4().hex[:12]}",
            "createdAt": str(created_at or int(time.time())),
            "room": {"name": room, "sid": "RM_test"},
            "participant": {"identity": "webhook-ghost", "sid": "PA_test", "version": 1},
        }
    ).encode()


async def post_webhook(service: Service, body: bytes, authorization: str | None) -> httpx.Response:
    headers = {"content-type": "application/webhook+json"}
    if authorization is not None:
        headers["authorization"] = authorization
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        return await client.post("/webhooks/livekit", content=body, headers=headers)


async def test_webhooks_are_verified_and_deduplicated(stack: Stack, room_name: str) -> None:
    body = webhook_body(room_name)
    flipped = bytearray(body)
    flipped[10] ^= 1
    stale = webhook_body(room_name, created_at=int(time.time()) - 3600)
    assert (await post_webhook(stack.a, bytes(flipped), signed_webhook(stack.livekit, body))).status_code == 401
    assert (await post_webhook(stack.a, body, signed_webhook(stack.livekit, body, secret="x" * 40))).status_code == 401
    assert (await post_webhook(stack.a, body, None)).status_code == 401
    assert (await post_webhook(stack.a, stale, signed_webhook(stack.livekit, stale))).status_code == 401

    async with stack.ws(stack.b) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        await subscriber.next_event(key)
        for _ in range(10):
            response = await post_webhook(stack.a, body, signed_webhook(stack.livekit, body))
            assert response.status_code == 200
        _, event = await wait_for(subscriber, key, "PARTICIPANT_JOINED", identity="webhook-ghost")
        assert event["source"] == "LIVEKIT"
        with pytest.raises(TimeoutError):
            await wait_for(subscriber, key, "PARTICIPANT_JOINED", identity="webhook-ghost", timeout=1.5)


async def test_hostile_subscribers_are_refused(stack: Stack, room_name: str) -> None:
    anonymous = stack.ws(stack.a, authorization=None)
    await anonymous.connect(expect_ack=False)
    assert anonymous.closed is not None
    code, _ = await asyncio.wait_for(anonymous.closed, 5)
    assert code == 4403

    async with stack.ws(stack.a) as admin:
        keys = [await admin.subscribe(SUBSCRIBE, room=f"{room_name}-{index}") for index in range(10)]
        for key in keys:
            await admin.next_event(key)
        extra = await admin.subscribe(SUBSCRIBE, room=f"{room_name}-extra")
        received = await admin.next(extra)
        assert received.payload["type"] == "error", received.payload
        assert admin.closed is not None


async def test_redis_restart_resyncs_subscribers(
    stack: Stack, pool: ParticipantPool, lkapi_events: api.LiveKitAPI, room_name: str, request: pytest.FixtureRequest
) -> None:
    await pool.join(await token(stack.a, "alice", room_name), audio=False)
    async with stack.ws(stack.b) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        _, snapshot = await subscriber.next_event(key)
        assert [p["identity"] for p in snapshot["participants"]] == ["alice"]

        stack.redis.restart()
        back = time.monotonic()
        # Someone joins while the subscriber's instance is reconnecting: the resync must include them.
        await pool.join(await token(stack.a, "bob", room_name), audio=False)
        at, resync = await wait_for(subscriber, key, "SNAPSHOT", timeout=10)
        seen = {p["identity"] for p in resync["participants"]}
        deadline = time.monotonic() + 5
        while seen != {"alice", "bob"} and time.monotonic() < deadline:
            _, event = await subscriber.next_event(key, timeout=deadline - time.monotonic())
            if event["kind"] in ("PARTICIPANT_JOINED", "PARTICIPANT_UPDATED"):
                seen.add(event["participant"]["identity"])
        truth = await lkapi_events.room.list_participants(api.ListParticipantsRequest(room=room_name))
        assert seen == {participant.identity for participant in truth.participants}
        assert at - back < 5
        report(
            request.config, "Redis restart", [f"subscriber resynced {(at - back) * 1000:.0f} ms after Redis was back"]
        )


@pytest.fixture
async def lkapi_events(stack: Stack) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(stack.livekit.url, stack.livekit.api_key, stack.livekit.api_secret, failover=False)
    yield client
    await client.aclose()


async def test_an_idle_subscriber_resyncs_after_a_redis_restart(stack: Stack, room_name: str) -> None:
    async with stack.ws(stack.b) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        await subscriber.next_event(key)
        stack.redis.restart()
        back = time.monotonic()
        # Nothing happens in the room: the fresh snapshot must come by itself.
        at, event = await subscriber.next_event(key, timeout=5)
        assert event["kind"] == "SNAPSHOT"
        assert at - back < 5
