"""lockRoom and unlockRoom (`graphql_api.core.locks`)."""

from __future__ import annotations

import strawberry

from ...core import locks as lock_ops
from ..context import Info
from ..moderation import RoomLock

__all__ = ["LockMutations"]


@strawberry.type
class LockMutations:
    @strawberry.mutation(
        description=(
            "Lock a room (moderators of the room, admins): only its moderators and admins get tokens for it"
            " (others: ROOM_LOCKED); with `removeLateJoiners`, a user who joins after this with an older token"
            " is removed. Who is in the room now stays."
        )
    )
    async def lock_room(self, info: Info, room: str, remove_late_joiners: bool = True) -> RoomLock:
        lock = await lock_ops.lock_room(*await info.context.caller(), room, remove_late_joiners=remove_late_joiners)
        return RoomLock.from_data(lock)

    @strawberry.mutation(description="Unlock a room. True if it was locked.")
    async def unlock_room(self, info: Info, room: str) -> bool:
        return await lock_ops.unlock_room(*await info.context.caller(), room)
