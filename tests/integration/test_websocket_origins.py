"""WebSocket handshakes follow GXRTC_CORS_ORIGINS (issue 13, finding 12).

Browsers apply no CORS to WebSockets, so the service checks a handshake's
Origin itself, against the same list as CORS: a page on an allowed origin may
open a subscription socket, one on any other origin is refused with 403
before the socket is accepted. Clients that send no Origin are not browsers
(no ambient credentials to abuse) and are let in; they authenticate in
connection_init like everyone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websockets

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "origins-admin-key-0123456789abcdef0123456789"
ALLOWED = "https://app.example"


@pytest.fixture(scope="module")
def with_origins(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server, GXRTC_ENV="production", GXRTC_ADMIN_KEY=ADMIN_KEY, GXRTC_CORS_ORIGINS=json.dumps([ALLOWED])
    )
    with run_service(settings) as service:
        yield service


async def _snapshot(service: Service, origin: str | None) -> str:
    """The first event of a subscription opened from `origin`."""
    url = service.base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], origin=origin) as socket:  # type: ignore[list-item, arg-type]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_KEY}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        subscription = 'subscription { roomEvents(room: "origins") { kind } }'
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
        message = json.loads(await socket.recv())
        kind: str = message["payload"]["data"]["roomEvents"]["kind"]
        return kind


@pytest.mark.parametrize("origin", [ALLOWED, "https://APP.example:443", None])
async def test_an_allowed_origin_or_none_may_subscribe(with_origins: Service, origin: str | None) -> None:
    assert await _snapshot(with_origins, origin) == "SNAPSHOT"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://app.example", "null"])
async def test_any_other_origin_is_refused_before_the_socket_is_accepted(with_origins: Service, origin: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _snapshot(with_origins, origin)
    assert refused.value.response.status_code == 403
