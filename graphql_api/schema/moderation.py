"""Bans and room locks as GraphQL shows them, and their queries (`bans`, `roomLock`), over `graphql_api.core`.

A ban on every room (an admin's) has `room: null`, as `banParticipant(room: null, ...)` makes it.
"""

from __future__ import annotations

import datetime

import strawberry

from ..core import bans as ban_ops
from ..core import locks as lock_ops
from ..core.admission import Ban as BanData
from ..core.admission import Lock as LockData
from ..core.store import EVERY_ROOM
from .context import Info

__all__ = ["Ban", "ModerationQuery", "RoomLock"]


def _time(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


@strawberry.type(description="A ban: `identity` gets no token for `room` and is removed when it joins anyway.")
class Ban:
    room: str | None = strawberry.field(description="The room; null for a ban on every room.")
    identity: str
    reason: str
    banned_by: str = strawberry.field(description="Who banned (the principal's uid).")
    banned_at: datetime.datetime
    expires_at: datetime.datetime | None = strawberry.field(description="When it ends; null: until unbanned.")

    @classmethod
    def from_data(cls, ban: BanData) -> Ban:
        return cls(
            room=None if ban.room == EVERY_ROOM else ban.room,
            identity=ban.identity,
            reason=ban.reason,
            banned_by=ban.banned_by,
            banned_at=_time(ban.banned_at),
            expires_at=_time(ban.expires_at) if ban.expires_at is not None else None,
        )


@strawberry.type(description="A room's lock: only its moderators and admins get tokens for it.")
class RoomLock:
    room: str
    locked_by: str
    locked_at: datetime.datetime
    remove_late_joiners: bool = strawberry.field(
        description="Whether a user who joins after the lock with an older token is removed."
    )

    @classmethod
    def from_data(cls, lock: LockData) -> RoomLock:
        return cls(
            room=lock.room,
            locked_by=lock.locked_by,
            locked_at=_time(lock.locked_at),
            remove_late_joiners=lock.remove_late_joiners,
        )


@strawberry.type
class ModerationQuery:
    @strawberry.field(
        description=(
            "The bans in force in a room, its own and those on every room (moderators of the room, admins);"
            " with `room: null`, the bans on every room (admins)."
        )
    )
    async def bans(self, info: Info, room: str | None) -> list[Ban]:
        return [Ban.from_data(ban) for ban in await ban_ops.list_bans(*await info.context.caller(), room)]

    @strawberry.field(description="A room's lock; null when it is not locked (moderators of the room, admins).")
    async def room_lock(self, info: Info, room: str) -> RoomLock | None:
        lock = await lock_ops.room_lock(*await info.context.caller(), room)
        return RoomLock.from_data(lock) if lock is not None else None
