"""/graphql as the GraphQL over HTTP spec says, and subscriptions over Server-Sent Events (graphql-sse)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import ParticipantPool
from tests.harness.ports import free_port
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"
ADMIN_KEY = "http-admin-key-0123456789abcdef0123456789abcd"
JWT_SECRET = "http-jwt-secret-0123456789abcdef0123456789"
SUBSCRIBE = (
    "subscription($room: String) { roomEvents(room: $room) {"
    " kind sequence participant { identity } participants { identity } } }"
)


def moderator_of(*rooms: str) -> str:
    claims = {
        "sub": "mod-" + uuid.uuid4().hex[:6],
        "roles": ["moderator"],
        "rooms": list(rooms),
        "exp": time.time() + 600,
    }
    return "Bearer " + jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass(frozen=True)
class Stack:
    livekit: LiveKitServer
    service: Service


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A LiveKit whose webhooks reach the service, so joins are pushed as they happen."""
    port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-http"),
        webhook_urls=[f"http://127.0.0.1:{port}/webhooks/livekit"],
    )
    livekit.start()
    try:
        settings = service_settings(livekit, GXRTC_ADMIN_KEY=ADMIN_KEY, GXRTC_AUTH_JWT_SECRET=JWT_SECRET)
        with run_service(settings, port=port) as running:
            yield Stack(livekit, running)
    finally:
        livekit.stop()


@pytest.fixture
def authenticated(stack: Stack) -> Service:
    return stack.service


@pytest.fixture
async def client(authenticated: Service) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"authorization": f"Bearer {ADMIN_KEY}", "accept-language": "en"}
    async with httpx.AsyncClient(base_url=authenticated.base_url, timeout=20, headers=headers) as http:
        yield http


async def post(client: httpx.AsyncClient, query: str, accept: str | None, **variables: Any) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


# -- media type and status codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        GRAPHQL_RESPONSE,
        f"{GRAPHQL_RESPONSE}, application/json;q=0.9",
        # urql's and graphql-http's Accept
        f"{GRAPHQL_RESPONSE}, application/graphql+json, application/json, text/event-stream, multipart/mixed",
        f"application/json;q=0.5, {GRAPHQL_RESPONSE}",
    ],
)
async def test_a_client_preferring_graphql_response_json_gets_it_with_the_specs_status(
    client: httpx.AsyncClient, accept: str
) -> None:
    ran = await post(client, '{ rooms(names: ["nobody-here"]) { id name } }', accept)
    assert (ran.status_code, ran.headers["content-type"]) == (200, GRAPHQL_RESPONSE), ran.text
    assert ran.json() == {"data": {"rooms": []}}

    unparsable = await post(client, "{ rooms { name ", accept)
    assert (unparsable.status_code, unparsable.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert "data" not in unparsable.json()
    assert unparsable.json()["errors"]

    invalid = await post(client, "{ rooms { nonexistent } }", accept)
    assert (invalid.status_code, invalid.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert "data" not in invalid.json()
    assert invalid.json()["errors"]

    bad_variables = await post(client, "query($n: [String!]) { rooms(names: $n) { name } }", accept, n=5)
    assert bad_variables.status_code == 400
    assert "data" not in bad_variables.json()

    # Execution ran and a field failed: 200, with data.
    missing = await post(client, '{ participant(room: "no-such-room-x", identity: "x") { identity } }', accept)
    assert missing.status_code == 200, missing.text
    assert "data" in missing.json()
    assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", f"application/json, {GRAPHQL_RESPONSE};q=0.5"])
async def test_other_clients_get_application_json_and_200_as_before(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    invalid = await post(client, "{ rooms { nonexistent } }", accept)
    assert (invalid.status_code, invalid.headers["content-type"]) == (200, "application/json")
    assert invalid.json()["data"] is None
    assert invalid.json()["errors"]


# -- graphql-sse ---------------------------------------------------------------------------------------


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a text/event-stream, comments (heartbeats) skipped."""
    event, data = "", ""
    async for line in response.aiter_lines():
        if line == "":
            if event or data:
                yield event, json.loads(data) if data else None
            event, data = "", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


async def test_a_subscription_over_sse_starts_with_a_snapshot_and_sees_changes(
    client: httpx.AsyncClient, stack: Stack
) -> None:
    room = "sse-" + uuid.uuid4().hex[:8]
    await post(client, "mutation($r: String!) { createRoom(name: $r) { name } }", None, r=room)
    body = {"query": SUBSCRIBE, "variables": {"room": room}}
    pool = ParticipantPool(stack.livekit.ws_url)
    try:
        async with client.stream("POST", "/graphql", json=body, headers={"accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            kind, first = await asyncio.wait_for(anext(events), 20)
            assert kind == "next"
            assert first["data"]["roomEvents"]["kind"] == "SNAPSHOT", first
            token = await post(
                client, 'mutation($r: String!) { createToken(room: $r, identity: "sse-alice") { token } }', None, r=room
            )
            await pool.join(token.json()["data"]["createToken"]["token"])
            while True:
                kind, message = await asyncio.wait_for(anext(events), 20)
                assert kind == "next", (kind, message)
                event = message["data"]["roomEvents"]
                if event["kind"] == "PARTICIPANT_JOINED":
                    assert event["participant"]["identity"] == "sse-alice"
                    break
    finally:
        await pool.aclose()
    await post(client, "mutation($r: String!) { deleteRoom(name: $r) { name } }", None, r=room)


async def test_sse_authenticates_before_streaming_and_authorizes_per_room(authenticated: Service) -> None:
    body = {"query": SUBSCRIBE, "variables": {"room": "sse-theirs"}}
    async with httpx.AsyncClient(base_url=authenticated.base_url, timeout=20) as http:
        anonymous = await http.post("/graphql", json=body, headers={"accept": "text/event-stream"})
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["meta"]["error"] == "user unauthorized"
        headers = {"accept": "text/event-stream", "authorization": moderator_of("sse-mine")}
        async with http.stream("POST", "/graphql", json=body, headers=headers) as response:
            events = sse_events(response)
            kind, message = await asyncio.wait_for(anext(events), 20)
            assert kind == "next"
            assert message["errors"][0]["extensions"]["code"] == "FORBIDDEN", message
            assert (await asyncio.wait_for(anext(events), 20))[0] == "complete"


async def test_a_query_that_names_event_stream_among_others_is_answered_at_once(client: httpx.AsyncClient) -> None:
    # urql names text/event-stream in every request's Accept: only a subscription streams.
    answered = await post(client, '{ rooms(names: ["nobody"]) { name } }', "application/json, text/event-stream")
    assert (answered.status_code, answered.json()) == (200, {"data": {"rooms": []}})


async def test_a_get_never_streams(client: httpx.AsyncClient) -> None:
    # Only a POSTed subscription streams: a GET (which a cross-site page can send) is refused as before.
    params = {"query": SUBSCRIBE, "variables": '{"room": "sse-get"}'}
    refused = await client.get("/graphql", params=params, headers={"accept": "text/event-stream"})
    assert refused.status_code == 400, refused.text
    assert not refused.headers["content-type"].startswith("text/event-stream")


async def test_sse_has_the_websocket_paths_limits(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"k{index}: kind" for index in range(40))
    body = {"query": f'subscription {{ roomEvents(room: "sse-limits") {{ {aliases} }} }}'}
    async with client.stream("POST", "/graphql", json=body, headers={"accept": "text/event-stream"}) as response:
        events = sse_events(response)
        kind, message = await asyncio.wait_for(anext(events), 20)
        assert kind == "next"
        assert "data" not in message or message["data"] is None
        assert "alias" in message["errors"][0]["message"].lower(), message


@pytest.mark.parametrize(
    ("mutation", "param"),
    [
        ('createRoom(name: "") { sid }', "room"),
        ('createRoom(name: "r", emptyTimeout: -5) { sid }', "empty_timeout"),
        ('createToken(room: "r", identity: "") { token }', "identity"),
        ('createToken(room: "r", identity: "u", ttlSeconds: 0) { token }', "ttl_seconds"),
    ],
)
async def test_bad_input_is_bad_user_input(graphql: Any, mutation: str, param: str) -> None:
    body = await graphql(f"mutation {{ {mutation} }}")
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["param"] == param
    assert "Traceback" not in str(body)


async def test_queries_over_get_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ rooms { name } }"})
    assert response.status_code != 200


async def test_graphiql_is_served_in_dev(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
