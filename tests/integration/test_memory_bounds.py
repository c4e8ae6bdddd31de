"""A plain user cannot grow a worker's memory through the WebSocket (issue 13, finding 2).

Forty distinct 8 MiB subscribe messages used to take a worker from about 150
to 466 MB, and keep it there: uvicorn let WebSocket messages of up to 16 MiB
through (the HTTP body cap is 64 KiB), and the parse cache kept every
document, keyed by its whole text. Now a message over
GXRTC_MAX_WEBSOCKET_MESSAGE_BYTES closes its socket (1009) before it is
buffered, a query over GXRTC_GRAPHQL_MAX_QUERY_BYTES is refused before it is
parsed, and the caches are bounded by their texts' length. The bound asserted
is the README's: the worker's RSS grows by less than 32 MB under the attempt.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.harness.livekit_server import LiveKitServer
from tests.harness.reporting import report
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "memory-admin-key-0123456789abcdef0123456789"
USER_KEY = "memory-user-key-0123456789abcdef0123456789ab"
MESSAGES = 40
MESSAGE_BYTES = 8 * 1024 * 1024
GROWTH_BOUND_KIB = 32 * 1024


@pytest.fixture(scope="module")
def production(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server,
        GXRTC_ENV="production",
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        GXRTC_API_KEYS=json.dumps(
            [{"name": "plain", "role": "user", "sha256": hashlib.sha256(USER_KEY.encode()).hexdigest()}]
        ),
    )
    with run_service(settings) as service:
        yield service


def _ws_url(service: Service) -> str:
    return service.base_url.replace("http://", "ws://") + "/graphql"


def _padded_subscription(index: int, size: int) -> str:
    """A valid subscription made long by a comment, so the token limit does not stop it; distinct per index."""
    head = f'subscription S{index} {{ roomEvents(room: "memory-{index}") {{ kind }} }}\n#'
    return head + "x" * (size - len(head))


async def _subscribe_as_user(service: Service, query: str) -> tuple[int | None, str]:
    """Sends one subscribe message; what came back (an error's message) or how the socket was closed."""
    async with websockets.connect(
        _ws_url(service),
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {USER_KEY}"}}))
        ack = json.loads(await socket.recv())
        assert ack["type"] == "connection_ack", ack
        try:
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            answer = json.loads(await asyncio.wait_for(socket.recv(), 30))
        except websockets.ConnectionClosed:
            return socket.close_code, socket.close_reason or ""
        return None, json.dumps(answer)


async def test_forty_8_mib_subscribe_messages_leave_the_workers_memory_bounded(
    production: Service, request: pytest.FixtureRequest
) -> None:
    # Warm: one ordinary refused subscription, so what start-up leaves to allocate is not counted.
    _, answer = await _subscribe_as_user(production, _padded_subscription(MESSAGES, 200))
    assert "FORBIDDEN" in answer, answer  # roomEvents is for moderators and admins
    before = production.rss_kib()
    outcomes = [await _subscribe_as_user(production, _padded_subscription(i, MESSAGE_BYTES)) for i in range(MESSAGES)]
    await asyncio.sleep(1)
    after = production.rss_kib()
    peak = production.memory_kib().get("VmHWM", after)
    report(
        request.config,
        "memory bounds",
        [
            f"{MESSAGES} distinct {MESSAGE_BYTES // 2**20} MiB subscribe messages from a plain user: "
            f"RSS {before / 1024:.0f} -> {after / 1024:.0f} MB (peak {peak / 1024:.0f} MB); "
            f"closes: {sorted({code for code, _ in outcomes if code is not None})}",
        ],
    )
    assert after - before < GROWTH_BOUND_KIB, (before, after)
    for code, reason in outcomes:
        assert code == 1009, (code, reason[:200])  # message too big, refused before it was buffered


async def test_a_query_over_the_size_limit_is_refused_before_parsing(production: Service) -> None:
    # Under the 64 KiB body and message caps, over the 32 KiB query limit.
    long_query = _padded_subscription(0, 40 * 1024)
    code, answer = await _subscribe_as_user(production, long_query)
    assert code is None, (code, answer)
    assert "the query is longer than 32768 bytes" in answer, answer[:500]
    async with httpx.AsyncClient(base_url=production.base_url, timeout=15) as client:
        query = "{ rooms { name } }\n#" + "x" * (40 * 1024)
        response = await client.post(
            "/graphql", json={"query": query}, headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["errors"][0]["message"] == "the query is longer than 32768 bytes"
