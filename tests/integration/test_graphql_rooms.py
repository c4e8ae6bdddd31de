"""The GraphQL face for tokens and rooms against a real LiveKit."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from livekit import api
from livekit.api import TokenVerifier

from tests.harness.livekit_server import LiveKitServer

pytestmark = pytest.mark.integration

ROOM_FIELDS = """
  sid name emptyTimeout departureTimeout maxParticipants creationTime creationTimeMs
  metadata numParticipants numPublishers activeRecording enabledCodecs { mime fmtpLine }
"""


async def test_create_token(graphql: Any, livekit_server: LiveKitServer, room_name: str) -> None:
    body = await graphql(
        'mutation($room: String!) { createToken(room: $room, identity: "bob", name: "Bob", ttlSeconds: 120)'
        " { token identity room expiresAt url } }",
        room=room_name,
    )
    assert "errors" not in body, body
    token = body["data"]["createToken"]
    assert token["url"] == livekit_server.ws_url
    claims = TokenVerifier(livekit_server.api_key, livekit_server.api_secret).verify(token["token"])
    assert (claims.identity, claims.name) == ("bob", "Bob")
    assert claims.video is not None
    assert claims.video.room == room_name
    expires = datetime.datetime.fromisoformat(token["expiresAt"])
    remaining = expires - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(seconds=100) < remaining <= datetime.timedelta(seconds=121)


async def test_room_lifecycle(graphql: Any, lkapi: api.LiveKitAPI, room_name: str) -> None:
    body = await graphql(
        'mutation($name: String!) { createRoom(name: $name, emptyTimeout: 90, metadata: "hello")'
        f" {{ {ROOM_FIELDS} }} }}",
        name=room_name,
    )
    assert "errors" not in body, body
    created = body["data"]["createRoom"]
    upstream = (await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))).rooms[0]
    assert created["sid"] == upstream.sid
    assert created["emptyTimeout"] == 90
    assert created["metadata"] == "hello"
    # A 64-bit value, past what GraphQL's Int can hold.
    assert created["creationTimeMs"] == upstream.creation_time_ms > 2**31

    body = await graphql(f"query($name: String!) {{ room(name: $name) {{ {ROOM_FIELDS} }} }}", name=room_name)
    assert body["data"]["room"]["sid"] == upstream.sid

    body = await graphql("query($names: [String!]) { rooms(names: $names) { name sid } }", names=[room_name])
    assert body["data"]["rooms"] == [{"name": room_name, "sid": upstream.sid}]

    body = await graphql("mutation($name: String!) { deleteRoom(name: $name) { name sid } }", name=room_name)
    assert body["data"]["deleteRoom"] == {"name": room_name, "sid": upstream.sid}
    assert not (await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))).rooms


async def test_missing_room_is_not_found(graphql: Any, room_name: str) -> None:
    body = await graphql("query($name: String!) { room(name: $name) { sid } }", name=room_name)
    assert body["data"] == {"room": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    body = await graphql("mutation($name: String!) { deleteRoom(name: $name) { sid } }", name=room_name)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


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
