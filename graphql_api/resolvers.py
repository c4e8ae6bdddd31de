"""The operations of GXRTC API, free of any transport.

REST compat and GraphQL both call these; neither holds logic of its own beyond
turning its input into arguments and the result into its own shape. Nothing
here imports FastAPI or Strawberry. Each operation takes the `Core` explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from livekit.protocol import models
from livekit.protocol import room as room_proto

from .errors import InvalidParameter, NotFound, RoomNotFound
from .livekit import LiveKit
from .settings import Settings
from .tokens import JoinToken, TokenMinter
from .validation import check_count, check_name

__all__ = [
    "Core",
    "create_room",
    "create_token",
    "delete_room",
    "get_room",
    "list_rooms",
]


@dataclass(frozen=True, slots=True)
class Core:
    """The long-lived objects every operation needs, built once per process."""

    settings: Settings
    livekit: LiveKit
    minter: TokenMinter


async def create_token(
    core: Core, *, room: str | None, identity: str | None, name: str | None = None, ttl_seconds: int | None = None
) -> JoinToken:
    identity = check_name(identity, "identity")
    room = check_name(room, "room")
    if name is not None and len(name) > 256:
        raise InvalidParameter("name", "must be at most 256 characters")
    max_ttl = core.settings.token_max_ttl_seconds
    ttl = check_count(ttl_seconds, "ttl_seconds", minimum=1, maximum=max_ttl) or core.settings.token_ttl_seconds
    return core.minter.mint(identity=identity, room=room, ttl_seconds=min(ttl, max_ttl), name=name)


async def create_room(
    core: Core,
    *,
    name: str | None,
    empty_timeout: int | None = None,
    departure_timeout: int | None = None,
    max_participants: int | None = None,
    metadata: str | None = None,
) -> models.Room:
    request = room_proto.CreateRoomRequest(name=check_name(name, "room"))
    # Unset fields stay unset so LiveKit applies its configured room defaults.
    if check_count(empty_timeout, "empty_timeout") is not None:
        request.empty_timeout = empty_timeout  # type: ignore[assignment]
    if check_count(departure_timeout, "departure_timeout") is not None:
        request.departure_timeout = departure_timeout  # type: ignore[assignment]
    if check_count(max_participants, "max_participants") is not None:
        request.max_participants = max_participants  # type: ignore[assignment]
    if metadata is not None:
        request.metadata = metadata
    return await core.livekit.create_room(request)


async def list_rooms(core: Core, names: list[str] | None = None) -> list[models.Room]:
    if names is not None:
        names = [check_name(name, "names") for name in names]
        if not names:
            return []
    return await core.livekit.list_rooms(names)


async def get_room(core: Core, name: str | None) -> models.Room:
    name = check_name(name, "room")
    rooms = await core.livekit.list_rooms([name])
    if not rooms:
        raise RoomNotFound(name)
    return rooms[0]


async def delete_room(core: Core, name: str | None) -> models.Room:
    # LiveKit's DeleteRoom answers with nothing, and the document returns the
    # deleted room, so it is read first; that read is also what makes a
    # missing room a 404 rather than a silent success.
    room = await get_room(core, name)
    try:
        await core.livekit.delete_room(room.name)
    except NotFound:
        raise RoomNotFound(room.name) from None
    return room
