"""A credential's expiry ends what it opened: a subscription socket whose JWT expires a few
seconds after connection_init is closed with 4403, on a real service and a real LiveKit,
while a socket on a credential that does not expire stays open."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from livekit import api

from graphql_api.core.auth import Principal, Role
from graphql_api.errors import Unauthenticated
from graphql_api.schema.context import Context
from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings
from tests.integration.test_graphql_over_http import sse_events
from tests.unit.core.test_fanout import CountingLiveKit, make_core

pytestmark = pytest.mark.integration

SECRET = "expiry-idp-secret-0123456789abcdef0123456789"
ADMIN_KEY = "expiry-admin-key-0123456789abcdef0123456789"
LIFETIME = 4
"""Seconds the JWT is valid after it is made."""


@pytest.fixture(scope="module")
def production(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server,
        GXRTC_ENV="production",
        GXRTC_AUTH_JWT_SECRET=SECRET,
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        # No leeway, so the socket's end can be expected at the token's own exp.
        GXRTC_AUTH_LEEWAY_SECONDS="0",
    )
    with run_service(settings) as service:
        yield service


async def test_a_socket_closes_when_its_jwt_expires(production: Service, lkapi: api.LiveKitAPI) -> None:
    room = f"expiry-{uuid.uuid4().hex[:8]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=room))
    exp = int(time.time()) + LIFETIME
    token = jwt.encode({"sub": "root", "roles": ["admin"], "exp": exp}, SECRET, algorithm="HS256")
    url = production.base_url.replace("http", "ws", 1) + "/graphql"
    query = f'subscription {{ roomEvents(room: "{room}") {{ kind }} }}'
    async with (
        SubscriptionClient(url, f"Bearer {token}") as expiring,
        SubscriptionClient(url, f"Bearer {ADMIN_KEY}") as lasting,
    ):
        assert expiring.closed is not None
        assert lasting.closed is not None
        first = await expiring.subscribe(query)
        assert (await expiring.next_event(first))[1]["kind"] == "SNAPSHOT"
        assert (await lasting.next_event(await lasting.subscribe(query)))[1]["kind"] == "SNAPSHOT"
        # Generous: the close is due at exp; a loaded machine may be late, never early.
        code, reason = await asyncio.wait_for(asyncio.shield(expiring.closed), LIFETIME + 30)
        closed_at = time.time()
        assert (code, reason) == (4403, "credential expired")
        assert closed_at >= exp
        assert not lasting.closed.done()
        # The socket on the API key still serves new subscriptions.
        assert (await lasting.next_event(await lasting.subscribe(query)))[1]["kind"] == "SNAPSHOT"
    async with httpx.AsyncClient(base_url=production.base_url, timeout=15) as client:
        response = await client.get("/api/v1/room/", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_an_sse_stream_ends_when_its_jwt_expires(production: Service, lkapi: api.LiveKitAPI) -> None:
    """graphql-sse has no socket to close: the subscription itself ends, with the expiry as its error."""
    room = f"expiry-sse-{uuid.uuid4().hex[:8]}"
    await lkapi.room.create_room(api.CreateRoomRequest(name=room))
    exp = int(time.time()) + LIFETIME
    token = jwt.encode({"sub": "root", "roles": ["admin"], "exp": exp}, SECRET, algorithm="HS256")
    body = {"query": f'subscription {{ roomEvents(room: "{room}") {{ kind }} }}'}
    headers = {"accept": "text/event-stream", "authorization": f"Bearer {token}", "accept-language": "en"}
    async with (
        httpx.AsyncClient(base_url=production.base_url, timeout=LIFETIME + 30) as client,
        client.stream("POST", "/graphql", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        events = sse_events(response)
        kind, first = await asyncio.wait_for(anext(events), 20)
        assert (kind, first["data"]["roomEvents"]["kind"]) == ("next", "SNAPSHOT")
        # Generous: the end is due at exp; a loaded machine may be late, never early.
        kind, last = await asyncio.wait_for(anext(events), LIFETIME + 30)
        ended_at = time.time()
        assert kind == "next", (kind, last)
        assert last["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", last
        assert last["errors"][0]["message"] == "the token has expired"
        assert ended_at >= exp
        assert await asyncio.wait_for(anext(events), 10) == ("complete", None)


async def test_an_expired_credential_is_refused_by_a_context_that_outlived_it() -> None:
    """What refuses a subscription sent on such a socket before it is closed."""
    context = Context(core=make_core(CountingLiveKit(1), limit=1))
    context._principal = Principal(uid="root", roles=frozenset({Role.ADMIN}), expires_at=time.time() - 1)
    with pytest.raises(Unauthenticated):
        await context.caller()
    context._principal = Principal(uid="root", roles=frozenset({Role.ADMIN}), expires_at=time.time() + 60)
    assert (await context.caller())[1].uid == "root"
