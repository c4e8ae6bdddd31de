"""Rooms: create (idempotent), list (what the caller may see; overviews from the cache; a page), get, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from livekit.protocol import models
from livekit.protocol import room as room_proto

from ..errors import Forbidden, NotFound, RoomNotFound
from . import policy
from .audit import audited
from .auth import Principal
from .changes import change_id, room_may_be_new
from .paging import Page, cut_page
from .room_events import emit
from .validation import MAX_NAME_LENGTH, check_count, check_name, check_text

if TYPE_CHECKING:
    from .services import Core

__all__ = ["RoomFilter", "create_room", "delete_room", "existing_room", "get_room", "list_rooms", "page_rooms"]


async def create_room(
    core: Core,
    principal: Principal,
    *,
    name: str | None,
    empty_timeout: int | None = None,
    departure_timeout: int | None = None,
    max_participants: int | None = None,
    metadata: str | None = None,
) -> models.Room:
    name = check_name(name, "room")
    request = room_proto.CreateRoomRequest(name=name)
    # Unset fields stay unset so LiveKit applies its configured room defaults.
    if check_count(empty_timeout, "empty_timeout") is not None:
        request.empty_timeout = empty_timeout  # type: ignore[assignment]
    if check_count(departure_timeout, "departure_timeout") is not None:
        request.departure_timeout = departure_timeout  # type: ignore[assignment]
    if check_count(max_participants, "max_participants") is not None:
        request.max_participants = max_participants  # type: ignore[assignment]
    if metadata is not None:
        request.metadata = check_text(metadata, "metadata", core.settings.max_metadata_bytes)
    async with audited(
        core,
        principal,
        "create_room",
        name,
        empty_timeout=empty_timeout,
        departure_timeout=departure_timeout,
        max_participants=max_participants,
    ):
        policy.require_moderator(principal, name)
        room = await core.livekit.create_room(request)
    if room_may_be_new(room):
        await emit(core, principal, "room_started", name, event_id=change_id("room_started", name, room_sid=room.sid))
    return room


async def list_rooms(
    core: Core, principal: Principal, names: list[str] | None = None, *, overview: bool = False
) -> list[models.Room]:
    """The rooms the caller may see. With `overview`, for a listing of rooms with their
    participants: from the overview cache, as fresh as their participants (see room_cache)."""
    if names is not None:
        names = [check_name(name, "names") for name in names]
    readable = policy.readable_rooms(principal, core.settings)
    if readable is not None:
        if not readable:
            raise Forbidden("you may not list rooms")
        # A moderator sees the rooms it runs, and no others.
        names = sorted(readable if names is None else readable.intersection(names))
    if names is not None and not names:
        return []
    if overview:
        # The key is what the policy left, so callers who may see different rooms never share an answer.
        return await core.room_lists.get(tuple(names) if names is not None else None)
    return await core.livekit.list_rooms(names)


@dataclass(frozen=True, slots=True)
class RoomFilter:
    """What a page of rooms is narrowed to; None matches everything."""

    name_prefix: str | None = None
    has_participants: bool | None = None
    created_since: int | None = None
    """Unix seconds: rooms LiveKit created at or after it."""

    def matches(self, room: models.Room) -> bool:
        if self.name_prefix is not None and not room.name.startswith(self.name_prefix):
            return False
        if self.has_participants is not None and (room.num_participants > 0) != self.has_participants:
            return False
        return self.created_since is None or room.creation_time >= self.created_since


async def page_rooms(
    core: Core,
    principal: Principal,
    *,
    first: int | None = None,
    after: str | None = None,
    filter: RoomFilter | None = None,
) -> Page[models.Room]:
    """A page of the rooms the caller may see, by name, from a fresh listing."""
    filter = filter or RoomFilter()
    if filter.name_prefix is not None:
        check_text(filter.name_prefix, "name_prefix", MAX_NAME_LENGTH)
    check_count(filter.created_since, "created_since")
    rooms = await list_rooms(core, principal)
    return cut_page(
        (room for room in rooms if filter.matches(room)),
        lambda room: room.name,
        kind="room",
        first=first,
        after=after,
    )


async def get_room(core: Core, principal: Principal, name: str | None) -> models.Room:
    name = check_name(name, "room")
    policy.require_reader(principal, core.settings, name)
    return await existing_room(core, name)


async def existing_room(core: Core, name: str) -> models.Room:
    rooms = await core.livekit.list_rooms([name])
    if not rooms:
        raise RoomNotFound(name)
    return rooms[0]


async def delete_room(core: Core, principal: Principal, name: str | None) -> models.Room:
    name = check_name(name, "room")
    async with audited(core, principal, "delete_room", name):
        policy.require_moderator(principal, name)
        # LiveKit's DeleteRoom answers with nothing, and the document returns the
        # deleted room, so it is read first; that read is also what makes a
        # missing room a 404 rather than a silent success.
        room = await existing_room(core, name)
        try:
            await core.livekit.delete_room(room.name)
        except NotFound:
            raise RoomNotFound(room.name) from None
    await emit(core, principal, "room_finished", name, event_id=change_id("room_finished", name, room_sid=room.sid))
    return room
