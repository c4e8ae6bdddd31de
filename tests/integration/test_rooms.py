"""Rooms on both faces against a real LiveKit: created, read, listed and deleted there, a missing one a 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from livekit import api

pytestmark = pytest.mark.integration


ROOM_FIELDS = """
  sid name emptyTimeout departureTimeout maxParticipants creationTime creationTimeMs
  metadata numParticipants numPublishers activeRecording enabledCodecs { mime fmtpLine }
"""


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


async def test_room_is_really_created_and_deleted_in_livekit(
    http: httpx.AsyncClient, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    response = await http.post(
        "/api/v1/room",
        data={"room": room_name, "empty_timeout": "120", "max_participants": "7", "metadata": "m1"},
    )
    assert response.status_code == 200, response.text
    rooms = (await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))).rooms
    assert len(rooms) == 1
    assert (rooms[0].empty_timeout, rooms[0].max_participants, rooms[0].metadata) == (120, 7, "m1")
    assert response.json()["data"]["sid"] == rooms[0].sid

    response = await http.delete(f"/api/v1/room/{room_name}")
    assert response.status_code == 200
    assert not (await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))).rooms


@pytest.mark.parametrize("path", ["/api/v1/room", "/api/v1/room/"])
async def test_room_with_and_without_slash_never_redirects(http: httpx.AsyncClient, path: str, room_name: str) -> None:
    response = await http.post(path, data={"room": room_name})
    assert response.status_code == 200
    listed = await http.get(path)
    assert listed.status_code == 200
    assert room_name in {room["name"] for room in listed.json()["data"]["rooms"]}
    await http.delete(f"/api/v1/room/{room_name}")
