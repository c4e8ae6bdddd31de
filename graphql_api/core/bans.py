"""Bans: keep an identity out of a room (or, an admin's, out of every room), until unbanned or until they expire.

A ban is a row of the store (`store.bans`); admission (`admission`) reads it on
every token and every join. Banning removes the identity from the room now if
it is there (or from every room), since LiveKit lets a removed participant back
in with the token it has; later joins with such a token are removed by
`enforcement`. Each change is published on `roomEvents` (PARTICIPANT_BANNED,
PARTICIPANT_UNBANNED), which also drops the cached rules of the room on every
instance.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

from livekit.protocol import models
from sqlalchemy import delete

from . import policy
from .admission import Ban, room_rules
from .audit import audited
from .auth import Principal
from .enforcement import remove_everywhere, remove_if_present
from .room_events import emit
from .store import EVERY_ROOM, bans
from .upsert import upsert
from .validation import check_count, check_name, check_text

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "MAX_BAN_SECONDS",
    "MAX_REASON_BYTES",
    "ban_participant",
    "list_bans",
    "purge_expired_bans",
    "unban_participant",
]

log = logging.getLogger(__name__)

MAX_BAN_SECONDS: Final = 10 * 366 * 86400
"""The longest a ban with a duration may last (ten years); longer is "until unbanned" (no duration)."""
MAX_REASON_BYTES: Final = 1024


def _scope(principal: Principal, room: str | None) -> str:
    """The ban's room as stored (`EVERY_ROOM` for None), once the caller may ban there."""
    if room is None:
        policy.require_admin(principal, "ban from every room")
        return EVERY_ROOM
    room = check_name(room, "room")
    policy.require_moderator(principal, room)
    return room


async def ban_participant(
    core: Core,
    principal: Principal,
    room: str | None,
    identity: str | None,
    *,
    reason: str | None = None,
    duration_seconds: int | None = None,
) -> Ban:
    """Ban `identity` from `room` (None: from every room, admins only); a duration of None or 0 lasts until unbanned."""
    if room is not None:
        room = check_name(room, "room")
    identity = check_name(identity, "identity")
    reason = check_text(reason or "", "reason", MAX_REASON_BYTES)
    duration = check_count(duration_seconds, "duration_seconds", minimum=0, maximum=MAX_BAN_SECONDS)
    async with audited(
        core, principal, "ban", room or EVERY_ROOM, identity, reason=reason, duration_seconds=duration
    ) as act:
        scope = _scope(principal, room)
        now = time.time()
        ban = Ban(
            room=scope,
            identity=identity,
            reason=reason,
            banned_by=principal.uid,
            banned_at=now,
            expires_at=now + duration if duration else None,
        )
        async with act.transaction() as connection:
            await upsert(
                connection,
                bans,
                ("room", "identity"),
                {
                    "room": ban.room,
                    "identity": ban.identity,
                    "reason": ban.reason,
                    "banned_by": ban.banned_by,
                    "banned_at": ban.banned_at,
                    "expires_at": ban.expires_at,
                },
            )
    core.rules.drop(room)
    if room is None:
        removed_from = await remove_everywhere(core, identity)
    else:
        await remove_if_present(core, room, identity)
        removed_from = [room]
    for where in removed_from:
        await emit(
            core,
            principal,
            "participant_banned",
            where,
            participant=models.ParticipantInfo(identity=identity),
            reason=reason,
            until=ban.expires_at,
        )
    return ban


async def unban_participant(core: Core, principal: Principal, room: str | None, identity: str | None) -> bool:
    """Lift a ban; True if there was one (an expired one counts: it is deleted too)."""
    if room is not None:
        room = check_name(room, "room")
    identity = check_name(identity, "identity")
    async with audited(core, principal, "unban", room or EVERY_ROOM, identity) as act:
        scope = _scope(principal, room)
        async with act.transaction() as connection:
            result = await connection.execute(delete(bans).where(bans.c.room == scope, bans.c.identity == identity))
    core.rules.drop(room)
    if room is not None:
        await emit(core, principal, "participant_unbanned", room, participant=models.ParticipantInfo(identity=identity))
    return bool(result.rowcount)


async def list_bans(core: Core, principal: Principal, room: str | None) -> list[Ban]:
    """The bans in force in `room`, its own and every-room ones (None: the every-room ones, admins only).

    Read like admission reads them (cached briefly; the last known while the database is down).
    """
    scope = _scope(principal, room)
    rules = await room_rules(core, scope)
    return sorted(rules.active_bans(time.time()), key=lambda ban: (ban.banned_at, ban.room, ban.identity))


async def purge_expired_bans(core: Core) -> int:
    """Delete the bans that have expired (they are not enforced anyway); the number deleted."""
    async with core.store.begin() as connection:
        result = await connection.execute(delete(bans).where(bans.c.expires_at <= time.time()))
    return int(result.rowcount or 0)
