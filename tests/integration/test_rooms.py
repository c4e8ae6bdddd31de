"""Rooms on both faces against a real LiveKit: created, read, listed and deleted there, a missing one a 404."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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


async def test_rooms_page_through_both_faces_each_once_and_filtered(
    http: httpx.AsyncClient, graphql: Any, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    names = sorted(f"{room_name}-{i:02}" for i in range(7))
    for name in names:
        await lkapi.room.create_room(api.CreateRoomRequest(name=name))
    try:
        # REST: the document's listing, unchanged without paging parameters; a page with them.
        whole = (await http.get("/api/v1/room/")).json()["data"]
        assert set(whole) == {"rooms"}
        seen: list[str] = []
        params: dict[str, str] = {"limit": "3", "name_prefix": room_name}
        while True:
            response = await http.get("/api/v1/room/", params=params)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert data["total_count"] == 7
            seen += [room["name"] for room in data["rooms"]]
            if data["next_cursor"] is None:
                break
            params["cursor"] = data["next_cursor"]
        assert seen == names

        # GraphQL: the same rooms, in the same order, through the connection.
        query = (
            "query($after: String, $prefix: String) { roomsConnection(first: 4, after: $after,"
            " filter: {namePrefix: $prefix}) { totalCount pageInfo { hasNextPage endCursor }"
            " edges { cursor node { name sid } } } }"
        )
        body = await graphql(query, prefix=room_name)
        first = body["data"]["roomsConnection"]
        assert first["totalCount"] == 7
        assert first["pageInfo"]["hasNextPage"] is True
        body = await graphql(query, prefix=room_name, after=first["pageInfo"]["endCursor"])
        second = body["data"]["roomsConnection"]
        assert second["pageInfo"] == {"hasNextPage": False, "endCursor": second["edges"][-1]["cursor"]}
        assert [edge["node"]["name"] for edge in first["edges"] + second["edges"]] == names

        # Nobody joined any of them.
        body = await graphql(
            "query($p: String) { roomsConnection(filter: {namePrefix: $p, hasParticipants: true}) { totalCount } }",
            p=room_name,
        )
        assert body["data"]["roomsConnection"]["totalCount"] == 0
    finally:
        for name in names:
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))


async def _each(calls: Any, limit: int = 32) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(call: Any) -> None:
        async with gate:
            await call

    await asyncio.gather(*(one(call) for call in calls))


async def _delete_quietly(lkapi: api.LiveKitAPI, name: str) -> None:
    with contextlib.suppress(api.TwirpError):
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))


async def test_a_thousand_rooms_page_each_once_while_others_come_and_go(
    http: httpx.AsyncClient, graphql: Any, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    """1,000 rooms paged by 100 on both faces while rooms sorting between them are created and deleted: every
    one of the thousand exactly once, no room twice, whatever the churn moved (keyset cursors, not offsets)."""
    names = [f"{room_name}-{i:04}" for i in range(1000)]
    await _each(lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=300)) for name in names)
    stop = asyncio.Event()
    churned: set[str] = set()

    async def churn() -> None:
        # Names that sort between the thousand's, before and after every page boundary.
        for n in itertools.count():
            if stop.is_set():
                return
            name = f"{room_name}-{(n * 37) % 1000:04}-churn"
            churned.add(name)
            await lkapi.room.create_room(api.CreateRoomRequest(name=name, empty_timeout=300))
            await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))

    async def rest_pages() -> list[str]:
        seen: list[str] = []
        params = {"limit": "100", "name_prefix": room_name}
        while True:
            response = await http.get("/api/v1/room/", params=params)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert len(data["rooms"]) <= 100
            seen += [room["name"] for room in data["rooms"]]
            if data["next_cursor"] is None:
                return seen
            params["cursor"] = data["next_cursor"]

    async def graphql_pages() -> list[str]:
        seen: list[str] = []
        query = (
            "query($after: String, $p: String) { roomsConnection(first: 100, after: $after, filter: {namePrefix: $p})"
            " { pageInfo { hasNextPage endCursor } edges { node { name } } } }"
        )
        after = None
        while True:
            page = (await graphql(query, p=room_name, after=after))["data"]["roomsConnection"]
            seen += [edge["node"]["name"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    churning = asyncio.create_task(churn())
    try:
        for seen in (await rest_pages(), await graphql_pages()):
            assert len(seen) == len(set(seen)), "a room came twice"
            stable = [name for name in seen if name not in churned]
            assert stable == names  # each of the thousand once, in order
        assert len(churned) > 1, "nothing came and went while paging"
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await churning
        await _each(_delete_quietly(lkapi, name) for name in names + sorted(churned))


async def test_a_bad_cursor_or_limit_is_a_400_naming_it(http: httpx.AsyncClient, graphql: Any) -> None:
    for params, param in (({"cursor": "garbage!"}, "cursor"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")):
        response = await http.get("/api/v1/room/", params=params)
        assert response.status_code == 400, response.text
        assert f"params {param} " in response.json()["meta"]["message"]
    body = await graphql('{ roomsConnection(after: "garbage!") { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["param"] == "after"
