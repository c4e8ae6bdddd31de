"""Traces against the real LiveKit and Redis: a caller's request, through uvicorn and the app in this
process (so OpenTelemetry's SDK can record its spans in memory), is one trace with the caller's trace id,
whose children are the LiveKit calls it made and the Redis publish of its room event; and no credential
or token reaches a span or an access-log line, through token minting, refused credentials and subscriptions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from pydantic import SecretStr

from graphql_api.app import create_app
from graphql_api.core.store import Store, migrate
from graphql_api.settings import Settings
from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer
from tests.harness.participants import ParticipantPool
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer
from tests.harness.service_app import access_lines
from tests.harness.tracing import TRACE_ID, TRACEPARENT, Spans, recorded_spans, trace_id

pytestmark = pytest.mark.integration

KEY = "traces-admin-key-0123456789abcdef0123456789"
JWT_SECRET = "traces-test-jwt-secret-0123456789abcdef0123"
ADMIN = {"authorization": f"Bearer {KEY}"}
SUBSCRIBE = "subscription($room: String) { roomEvents(room: $room) { kind } }"
TOKEN_QUERY = "mutation($room: String!, $identity: String!) { createToken(room: $room, identity: $identity) { token } }"


@dataclass
class Traced:
    base_url: str
    spans: Spans
    lines: list[str]
    livekit: LiveKitServer


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(workdir=tmp_path_factory.mktemp("redis-traces")) as server:
        yield server


@pytest.fixture
async def traced(livekit_server: LiveKitServer, redis: RedisServer, tmp_path: Path) -> AsyncIterator[Traced]:
    """The app with telemetry and the access log on, served by uvicorn here, its spans recorded."""
    settings = Settings(
        livekit_url=livekit_server.url,
        livekit_api_key=livekit_server.api_key,
        livekit_api_secret=SecretStr(livekit_server.api_secret),
        livekit_client_url=livekit_server.ws_url,
        admin_key=SecretStr(KEY),
        auth_jwt_secret=SecretStr(JWT_SECRET),
        env="production",
        telemetry=True,
        access_log=True,
        redis_url=redis.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}",
    )
    store = Store.open(settings.store_url, timeout_seconds=5)
    await migrate.upgrade(store)  # production mode: as an operator would, before starting it
    await store.aclose()
    port = free_port()
    with recorded_spans() as spans, access_lines() as lines:
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 30
        while not server.started:
            assert not serving.done(), "the service did not start"
            assert time.monotonic() < deadline, "the service did not start in time"
            await asyncio.sleep(0.05)
        try:
            yield Traced(f"http://127.0.0.1:{port}", spans, lines, livekit_server)
        finally:
            server.should_exit = True
            await serving


async def test_a_requests_livekit_and_redis_calls_are_its_children_in_the_callers_trace(
    traced: Traced, room_name: str
) -> None:
    pool = ParticipantPool(traced.livekit.ws_url)
    try:
        async with httpx.AsyncClient(base_url=traced.base_url, headers=ADMIN, timeout=15) as http:
            minted = await http.post("/api/v1/room/token", data={"uid": "alice", "room": room_name})
            await pool.join(minted.json()["data"]["access_token"], audio=True)
            deadline = time.monotonic() + 10
            while not (await http.get(f"/api/v1/room/{room_name}/participant/alice")).json()["data"]["tracks"]:
                assert time.monotonic() < deadline, "LiveKit never saw alice's microphone"
                await asyncio.sleep(0.1)
            muted = await http.post(
                f"/api/v1/room/{room_name}/participant/alice/mute", headers={"traceparent": TRACEPARENT}
            )
            assert muted.status_code == 200, muted.text
    finally:
        await pool.aclose()
    spans = traced.spans
    request = spans.one("POST /api/v1/room/{room}/participant/{uid}/mute")
    assert trace_id(request) == TRACE_ID
    children = [span for span in spans.all() if request in spans.ancestors(span)]
    names = {span.name for span in children}
    assert "LiveKit mute_published_track" in names, names
    assert "EVALSHA" in names, names  # the TRACK_MUTED event, published through Redis
    assert all(trace_id(span) == TRACE_ID for span in children)
    mute = next(span for span in children if span.name == "LiveKit mute_published_track")
    assert mute.attributes is not None
    assert mute.attributes["rpc.method"] == "mute_published_track"
    assert "error.type" not in mute.attributes
    # The broker's reader subscribed as the service started: a Redis span of its own, in no request's trace.
    subscribed = spans.named("SUBSCRIBE")
    assert subscribed
    assert all(span.parent is None and span.status.status_code.name == "UNSET" for span in subscribed)
    line = next(json.loads(line) for line in traced.lines if "/mute" in line)
    assert line["trace_id"] == TRACE_ID
    assert line["principal"]


def user_jwt(**claims: Any) -> str:
    return jwt.encode({"exp": int(time.time()) + 600, **claims}, JWT_SECRET, algorithm="HS256")


async def test_no_credential_or_token_reaches_a_span_or_a_log_line(traced: Traced, room_name: str) -> None:
    user = user_jwt(sub="alice", roles=["user"])
    expired = jwt.encode({"sub": "bob", "exp": int(time.time()) - 60}, JWT_SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 600}, "not-the-secret-" * 3, algorithm="HS256")
    wrong_key = "wrong-admin-key-0123456789abcdef0123456789"
    moderator = user_jwt(sub="mod", roles=["moderator"], rooms=[room_name])
    secrets = [KEY, JWT_SECRET, user, moderator, expired, forged, wrong_key, traced.livekit.api_secret]
    async with httpx.AsyncClient(base_url=traced.base_url, timeout=15) as http:
        minted = await http.post(
            "/api/v1/room/token", data={"uid": "alice", "room": room_name}, headers={"authorization": f"Bearer {user}"}
        )
        assert minted.status_code == 200, minted.text
        secrets.append(minted.json()["data"]["access_token"])
        answer = await http.post(
            "/graphql",
            json={"query": TOKEN_QUERY, "variables": {"room": room_name, "identity": "carol"}},
            headers=ADMIN,
        )
        secrets.append(answer.json()["data"]["createToken"]["token"])
        for refused in (wrong_key, expired, forged):
            answer = await http.post(
                "/api/v1/room/token",
                data={"uid": "x", "room": room_name},
                headers={"authorization": f"Bearer {refused}"},
            )
            assert answer.status_code == 401
        # A token where none belongs: in a query string.
        await http.get(f"/api/v1/room?access_token={secrets[-1]}", headers=ADMIN)
    ws = traced.base_url.replace("http://", "ws://") + "/graphql"
    async with SubscriptionClient(ws, f"Bearer {moderator}") as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=room_name)
        _, snapshot = await subscriber.next_event(key)
        assert snapshot["kind"] == "SNAPSHOT"
    refused_socket = SubscriptionClient(ws, f"Bearer {wrong_key}")
    await refused_socket.connect(expect_ack=False)
    assert refused_socket.closed is not None
    await asyncio.wait_for(refused_socket.closed, 10)
    await refused_socket.aclose()

    spans = traced.spans.all()
    assert any(span.name == "POST /api/v1/room/token" for span in spans)
    assert any(
        span.kind.name == "SERVER" and span.attributes and "websocket" in span.attributes.values() for span in spans
    )
    assert len(traced.lines) >= 6
    recorded = "\n".join([span.to_json() for span in spans] + traced.lines)
    for secret in secrets:
        assert secret not in recorded
        assert secret[-24:] not in recorded  # nor a piece of one (a JWT's signature)
