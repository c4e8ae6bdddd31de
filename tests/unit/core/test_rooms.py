"""Rooms' operations over the fake LiveKit: validation before LiveKit, idempotent create, who sees and runs
which room, 404s, the events and audit rows a change leaves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from graphql_api.core import room_events, rooms
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.core.store import audit_events
from graphql_api.errors import Forbidden, InvalidParameter, RoomNotFound

from .conftest import ADMIN, MODERATOR, USER


def calls(service: FakeRoomService, method: str) -> list[Any]:
    return [request for name, request in service.calls if name == method]


async def audit_rows(core: Core) -> list[tuple[str, str]]:
    async with core.store.engine.connect() as connection:
        result = await connection.execute(
            select(audit_events.c.action, audit_events.c.room).order_by(audit_events.c.id)
        )
        return [(row.action, row.room) for row in result]


async def test_create_sends_only_what_was_given_and_is_idempotent(core: Core, service: FakeRoomService) -> None:
    first = await rooms.create_room(core, ADMIN, name="ours", empty_timeout=30)
    again = await rooms.create_room(core, ADMIN, name="ours")
    assert first.sid == again.sid == "RM_ours"
    sent = calls(service, "create_room")
    assert [request.empty_timeout for request in sent] == [30, 0]  # 0: unset, LiveKit's default applies
    assert [request.max_participants for request in sent] == [0, 0]


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"name": ""}, "room"),
        ({"name": None}, "room"),
        ({"name": "a" * 1000}, "room"),
        ({"name": "ours", "empty_timeout": -1}, "empty_timeout"),
        ({"name": "ours", "max_participants": -5}, "max_participants"),
        ({"name": "ours", "metadata": "x" * (513 * 1024)}, "metadata"),
    ],
)
async def test_bad_input_is_refused_before_livekit_is_asked(
    core: Core, service: FakeRoomService, arguments: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(InvalidParameter, match=parameter):
        await rooms.create_room(core, ADMIN, **arguments)
    assert service.calls == []


async def test_a_moderator_runs_its_own_rooms_only(core: Core, service: FakeRoomService) -> None:
    await rooms.create_room(core, MODERATOR, name="ours")
    with pytest.raises(Forbidden):
        await rooms.create_room(core, MODERATOR, name="theirs")
    service.add_room("theirs")
    with pytest.raises(Forbidden):
        await rooms.delete_room(core, MODERATOR, "theirs")
    with pytest.raises(Forbidden):
        await rooms.get_room(core, MODERATOR, "theirs")
    assert [request.name for request in calls(service, "create_room")] == ["ours"]
    assert calls(service, "delete_room") == []
    assert "theirs" in service.rooms


async def test_who_lists_what(core: Core, service: FakeRoomService) -> None:
    for name in ("ours", "theirs", "zeta"):
        service.add_room(name)
    assert [room.name for room in await rooms.list_rooms(core, ADMIN)] == ["ours", "theirs", "zeta"]
    assert [room.name for room in await rooms.list_rooms(core, ADMIN, ["zeta", "nope"])] == ["zeta"]
    assert [room.name for room in await rooms.list_rooms(core, MODERATOR)] == ["ours"]
    assert await rooms.list_rooms(core, MODERATOR, ["theirs"]) == []
    with pytest.raises(Forbidden):
        await rooms.list_rooms(core, USER)


async def test_pages_cover_every_room_once_and_filters_select(core: Core, service: FakeRoomService) -> None:
    for n in range(25):
        service.add_room(f"room-{n:02}")
    service.add_participant("room-03", "bob")
    seen: list[str] = []
    after = None
    while True:
        page = await rooms.page_rooms(core, ADMIN, first=10, after=after)
        seen += [room.name for room in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == sorted(service.rooms)
    busy = await rooms.page_rooms(core, ADMIN, filter=rooms.RoomFilter(has_participants=True))
    assert [room.name for room in busy.items] == ["room-03"]
    prefixed = await rooms.page_rooms(core, ADMIN, filter=rooms.RoomFilter(name_prefix="room-2"))
    assert [room.name for room in prefixed.items] == [f"room-{n}" for n in range(20, 25)]


async def test_a_missing_room_is_a_404_on_get_and_delete(core: Core, service: FakeRoomService) -> None:
    with pytest.raises(RoomNotFound):
        await rooms.get_room(core, ADMIN, "nope")
    with pytest.raises(RoomNotFound):
        await rooms.delete_room(core, ADMIN, "nope")
    assert calls(service, "delete_room") == []


async def test_changes_are_announced_and_audited(core: Core, service: FakeRoomService) -> None:
    stream = room_events.room_events(core, ADMIN, "ours")
    assert (await anext(stream)).kind == "snapshot"
    await rooms.create_room(core, ADMIN, name="ours")
    started = await asyncio.wait_for(anext(stream), 5)
    deleted = await rooms.delete_room(core, ADMIN, "ours")
    finished = await asyncio.wait_for(anext(stream), 5)
    await stream.aclose()
    assert (started.kind, started.room, started.source) == ("room_started", "ours", "api")
    assert (finished.kind, finished.room) == ("room_finished", "ours")
    assert deleted.name == "ours"
    assert "ours" not in service.rooms
    assert await audit_rows(core) == [("create_room", "ours"), ("delete_room", "ours")]
