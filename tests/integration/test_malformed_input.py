"""A corpus of malformed and probing input against a production service (HS256 identity
provider, admin key, real LiveKit): every answer a clear 4xx in the envelope or a
GraphQL client error, nothing logged at ERROR, no schema names suggested over HTTP or
WebSocket, and no secret in any room object."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import websockets
from livekit import api

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

SECRET = "malformed-idp-secret-0123456789abcdef012345"
ADMIN_KEY = "malformed-admin-key-0123456789abcdef0123456"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}", "accept-language": "en"}
ROOM = f"malformed-{uuid.uuid4().hex[:8]}"
SURROGATE = '"\\ud800"'
"""A lone surrogate as JSON writes it: valid JSON syntax, no valid text."""


@pytest.fixture(scope="module")
def production(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server, GXRTC_ENV="production", GXRTC_AUTH_JWT_SECRET=SECRET, GXRTC_ADMIN_KEY=ADMIN_KEY
    )
    with run_service(settings) as service:
        yield service


@pytest.fixture
async def http(production: Service) -> Any:
    async with httpx.AsyncClient(base_url=production.base_url, timeout=15) as client:
        yield client


def error_lines(service: Service) -> list[str]:
    return [line for line in service.log_path.read_text().splitlines() if "ERROR" in line or "Traceback" in line]


# (path, raw JSON body): every one must be a 400 naming what is wrong.
REST_CORPUS = [
    ("/api/v1/room/token", '{"uid": ' + SURROGATE + ', "room": "r"}'),
    ("/api/v1/room/token", '{"uid": "u", "room": ' + SURROGATE + "}"),
    ("/api/v1/room/", '{"room": "r", "metadata": ' + SURROGATE + "}"),
    ("/api/v1/room/", '{"room": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/participant/p/info", '{"metadata": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/participant/p/info", '{"name": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/participant/p/info", '{"attrs": {"k": ' + SURROGATE + "}}"),
    (f"/api/v1/room/{ROOM}/participant/p/info", '{"attrs": "{\\"k\\": \\"\\\\ud800\\"}"}'),
    (f"/api/v1/room/{ROOM}/participant/p/mute", '{"track_sid": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/participant/p/permissions", '{"permission": {' + SURROGATE + ": true}}"),
    ("/api/v1/room/token", '{"uid": "u", "room": "r", "metadata": ' + SURROGATE + "}"),
    ("/api/v1/room/token", '{"uid": "u", "room": "r", "attributes": {"k": ' + SURROGATE + "}}"),
    ("/api/v1/room/token", '{"uid": "u", "room": "r", "attributes": "[1, 2]"}'),
    (f"/api/v1/room/{ROOM}/mute_all", '{"except": [' + SURROGATE + "]}"),
    (f"/api/v1/room/{ROOM}/mute_all", '{"sources": ["microphone", "nose"]}'),
    (f"/api/v1/room/{ROOM}/mute_all", '{"except": [1, 2]}'),
    (f"/api/v1/room/{ROOM}/metadata", '{"metadata": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/metadata", "{}"),
    (f"/api/v1/room/{ROOM}/message", '{"payload": ' + SURROGATE + "}"),
    (f"/api/v1/room/{ROOM}/message", '{"payload": "hi", "identities": ["a", ' + SURROGATE + "]}"),
    (f"/api/v1/room/{ROOM}/message", '{"payload": "hi", "topic": ' + SURROGATE + "}"),
    ("/api/v1/room/", "1"),
    ("/api/v1/room/", "null"),
    ("/api/v1/room/", "[]"),
]


@pytest.mark.parametrize(("path", "body"), REST_CORPUS)
async def test_rest_refuses_unencodable_json_as_a_client_error(
    http: httpx.AsyncClient, production: Service, path: str, body: str
) -> None:
    before = len(error_lines(production))
    headers = {**ADMIN, "content-type": "application/json"}
    response = await http.post(path, content=body.encode(), headers=headers)
    assert response.status_code == 400, response.text
    meta = response.json()["meta"]
    assert meta["code"] == 400
    assert meta["message"].startswith("params "), meta
    assert error_lines(production)[before:] == []


GRAPHQL_BODIES = ["1", "null", '"x"', "[]", "true", "[1]", '[{"query": "{ rooms { name } }"}]']


@pytest.mark.parametrize("body", GRAPHQL_BODIES)
async def test_graphql_refuses_a_body_that_is_not_an_object(
    http: httpx.AsyncClient, production: Service, body: str
) -> None:
    before = len(error_lines(production))
    headers = {**ADMIN, "content-type": "application/json"}
    response = await http.post("/graphql", content=body.encode(), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["meta"]["code"] == 400
    assert error_lines(production)[before:] == []


VARIABLE_CORPUS: list[tuple[str, dict[str, Any]]] = [
    ('mutation($t: Int) { createToken(room: "r", identity: "key:admin", ttlSeconds: $t) { token } }', {"t": "x"}),
    ('mutation($t: Int) { createToken(room: "r", identity: "key:admin", ttlSeconds: $t) { token } }', {"t": 2**40}),
    ('mutation($t: Int!) { createToken(room: "r", identity: "key:admin", ttlSeconds: $t) { token } }', {}),
    (
        'mutation($p: ParticipantPermissionInput!) { updateParticipantPermissions(room: "r", identity: "i",'
        " permission: $p) { identity } }",
        {"p": {"hiden": True}},
    ),
    ("query($n: [String!]) { rooms(names: $n) { name } }", {"n": [1, {}]}),
]


@pytest.mark.parametrize(("query", "variables"), VARIABLE_CORPUS)
async def test_variables_that_do_not_coerce_are_bad_user_input(
    http: httpx.AsyncClient, production: Service, query: str, variables: dict[str, Any]
) -> None:
    before = len(error_lines(production))
    response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=ADMIN)
    assert response.status_code == 200, response.text
    errors = response.json().get("errors", [])
    codes = [error["extensions"]["code"] for error in errors]
    assert codes, response.text
    assert codes == ["BAD_USER_INPUT"] * len(codes), errors
    assert "Did you mean" not in response.text
    assert error_lines(production)[before:] == []


async def test_an_idp_jwt_with_an_absurd_exp_is_401(http: httpx.AsyncClient, production: Service) -> None:
    before = len(error_lines(production))
    for exp in (int("9" * 400), 10**20, 2**63):
        token = jwt.encode({"sub": "u", "roles": ["admin"], "exp": exp, "iat": int(time.time())}, SECRET, "HS256")
        response = await http.get("/api/v1/room/", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401, (exp, response.text)
        assert response.json()["meta"]["error"] == "user unauthorized"
    assert error_lines(production)[before:] == []


SUGGESTION_PROBES = [
    "{ rooms { nam } }",
    '{ rom(name: "r") { name } }',
    '{ rooms(nams: ["r"]) { name } }',
    "{ rooms { ...F } } fragment F on Rom { name }",
    "{ rooms { ... on Rom { name } } }",
    'mutation { createToken(room: "r", identity: "i", canPublishSources: [MICROPHON]) { token } }',
    'mutation { updateParticipantPermissions(room: "r", identity: "i", permission: {hiden: true}) { identity } }',
]
WS_PROBES = [
    'subscription { roomEvents(room: "r") { kin } }',
    'subscription { roomEvent(room: "r") { kind } }',
    'subscription { roomEvents(rom: "r") { kind } }',
    'subscription { roomEvents(room: "r") { ...F } } fragment F on RoomEvnt { kind }',
    'subscription { roomEvents(room: "r") { participant { trakcs { sid } } } }',
]


async def test_no_suggestions_over_http(http: httpx.AsyncClient) -> None:
    answers = [
        (await http.post("/graphql", json={"query": query}, headers=ADMIN)).json() for query in SUGGESTION_PROBES
    ]
    assert all(answer.get("errors") for answer in answers), answers
    assert [answer for answer in answers if "Did you mean" in json.dumps(answer)] == []


async def test_no_suggestions_over_websocket(production: Service) -> None:
    url = production.base_url.replace("http", "ws", 1) + "/graphql"
    answers = []
    async with SubscriptionClient(url, ADMIN["authorization"]) as client:
        for query in WS_PROBES:
            answers.append((await client.next(await client.subscribe(query))).payload)
    assert all(answer["type"] == "error" for answer in answers), answers
    assert [answer for answer in answers if "Did you mean" in json.dumps(answer)] == []


async def test_rooms_carry_no_secret_on_either_face(http: httpx.AsyncClient, lkapi: api.LiveKitAPI) -> None:
    # LiveKit itself does hand out a TURN password with every room.
    created = await lkapi.room.create_room(api.CreateRoomRequest(name=ROOM))
    assert created.turn_password
    answers = [
        (await http.post("/api/v1/room/", data={"room": ROOM}, headers=ADMIN)).json(),
        (await http.get("/api/v1/room/", headers=ADMIN)).json(),
        (
            await http.post("/graphql", json={"query": "{ rooms { __typename name sid metadata } }"}, headers=ADMIN)
        ).json(),
    ]
    rooms = answers[1]["data"]["rooms"]
    assert ROOM in {room["name"] for room in rooms}
    assert {room["turn_password"] for room in rooms} == {""}
    assert answers[0]["data"]["turn_password"] == ""
    for answer in answers:
        assert created.turn_password not in json.dumps(answer)
    deleted = (await http.delete(f"/api/v1/room/{ROOM}", headers=ADMIN)).json()
    assert deleted["data"]["turn_password"] == ""
    assert created.turn_password not in json.dumps(deleted)


WS_MESSAGES = [
    "1",
    "null",
    '"x"',
    "[]",
    '{"type": "connection_init", "payload": 1}',
    '{"type": "subscribe", "id": "1", "payload": 1}',
    '{"type": "subscribe", "id": "1", "payload": {"query": 1}}',
    '{"type": "subscribe", "id": "1", "payload": {"query": "subscription { roomEvents { kind } }", "variables": []}}',
]


@pytest.mark.parametrize("message", WS_MESSAGES)
async def test_a_websocket_message_of_the_wrong_shape_closes_with_4400(production: Service, message: str) -> None:
    before = len(error_lines(production))
    url = production.base_url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as socket:
        if '"subscribe"' in message:
            init = {"type": "connection_init", "payload": {"Authorization": ADMIN["authorization"]}}
            await socket.send(json.dumps(init))
            assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(message)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 10)
        assert socket.close_code == 4400, socket.close_reason
    assert error_lines(production)[before:] == []


async def test_variables_that_do_not_coerce_over_websocket_are_bad_user_input(production: Service) -> None:
    before = len(error_lines(production))
    url = production.base_url.replace("http", "ws", 1) + "/graphql"
    answers = []
    async with SubscriptionClient(url, ADMIN["authorization"]) as client:
        for query, variables in (
            ("subscription($r: String) { roomEvents(room: $r) { kind } }", {"r": 5}),
            ("subscription($r: String!) { roomEvents(room: $r) { kind } }", {}),
        ):
            answers.append((await client.next(await client.subscribe(query, **variables))).payload)
    for answer in answers:
        assert answer["type"] == "error", answer
        assert [error["extensions"]["code"] for error in answer["payload"]] == ["BAD_USER_INPUT"], answer
    assert error_lines(production)[before:] == []
