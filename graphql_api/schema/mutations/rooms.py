"""createRoom, deleteRoom (`graphql_api.core.rooms`)."""

from __future__ import annotations

import strawberry

from ...core import rooms as room_ops
from ..context import Info
from ..types import Room

__all__ = ["RoomMutations"]


@strawberry.type
class RoomMutations:
    @strawberry.mutation(description="Create a room, or return it as it is when it exists already.")
    async def create_room(
        self,
        info: Info,
        name: str,
        empty_timeout: int | None = None,
        departure_timeout: int | None = None,
        max_participants: int | None = None,
        metadata: str | None = None,
    ) -> Room:
        room = await room_ops.create_room(
            *await info.context.caller(),
            name=name,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
            metadata=metadata,
        )
        return Room.from_proto(room)

    @strawberry.mutation(description="Close a room, disconnecting everyone in it; returns the room as it was.")
    async def delete_room(self, info: Info, name: str) -> Room:
        return Room.from_proto(await room_ops.delete_room(*await info.context.caller(), name))
