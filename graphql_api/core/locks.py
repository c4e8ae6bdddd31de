"""Room locks: while a room is locked, only its moderators and admins get tokens for it.

A lock is a row of the store (`store.room_locks`). Tokens are refused by
admission (`admission.refusal`); a participant who joins after the lock with a
token minted by a user (an older one, or one LiveKit refreshed) is removed by
`enforcement` when the lock says `remove_late_joiners`. Who was in the room
before it was locked stays. Each change is published on `roomEvents`
(ROOM_LOCKED, ROOM_UNLOCKED), which also drops the room's cached rules on every instance.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import delete

from . import policy
from .admission import Lock, room_rules
from .audit import audited
from .auth import Principal
from .room_events import emit
from .store import room_locks
from .upsert import upsert
from .validation import check_name

if TYPE_CHECKING:
    from .services import Core

__all__ = ["lock_room", "room_lock", "unlock_room"]


async def lock_room(core: Core, principal: Principal, room: str | None, *, remove_late_joiners: bool = True) -> Lock:
    """Lock `room` (again: the new lock's settings replace the old)."""
    room = check_name(room, "room")
    async with audited(core, principal, "lock", room, remove_late_joiners=remove_late_joiners) as act:
        policy.require_moderator(principal, room)
        lock = Lock(room=room, locked_by=principal.uid, locked_at=time.time(), remove_late_joiners=remove_late_joiners)
        async with act.transaction() as connection:
            await upsert(
                connection,
                room_locks,
                ("room",),
                {
                    "room": lock.room,
                    "locked_by": lock.locked_by,
                    "locked_at": lock.locked_at,
                    "remove_late_joiners": lock.remove_late_joiners,
                },
            )
    core.rules.drop(room)
    await emit(core, principal, "room_locked", room)
    return lock


async def unlock_room(core: Core, principal: Principal, room: str | None) -> bool:
    """Unlock `room`; True if it was locked."""
    room = check_name(room, "room")
    async with audited(core, principal, "unlock", room) as act:
        policy.require_moderator(principal, room)
        async with act.transaction() as connection:
            result = await connection.execute(delete(room_locks).where(room_locks.c.room == room))
    core.rules.drop(room)
    await emit(core, principal, "room_unlocked", room)
    return bool(result.rowcount)


async def room_lock(core: Core, principal: Principal, room: str | None) -> Lock | None:
    """`room`'s lock, if it is locked (read like admission reads it)."""
    room = check_name(room, "room")
    policy.require_moderator(principal, room)
    return (await room_rules(core, room)).lock
