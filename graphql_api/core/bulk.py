"""Bulk acts: kick, mute, change the permissions of, or ban many identities of one room in one call.

Why: a host removing 40 people should not make 40 requests, nor learn from one
error that "something" failed. Each identity goes through the very operation
of the single act (`participants.kick_participant`, `mute_participant`,
`update_participant`, `bans.ban_participant`), so its validation, policy and
audit row apply per identity; the call itself authorizes the room once up
front (a moderator of another room gets one 403, not a thousand) and is an
audit row of its own, with how many it asked for and how many succeeded.

Never all-or-nothing: every identity gets its own result, ok or the error the
single act would have raised (its code and reason from the one error tree).
At most `MAX_BULK_IDENTITIES` distinct identities (duplicates count once),
with at most `settings.bulk_concurrency` LiveKit acts in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import GxrtcError, InvalidParameter, MissingParameter, RoomNotFound
from . import bans, participants, policy
from .audit import audited
from .auth import Principal
from .validation import check_count, check_identities, check_name, check_text
from .vocabulary import TRACK_SOURCES

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "MAX_BULK_IDENTITIES",
    "ItemResult",
    "ban_participants",
    "kick_participants",
    "mute_participants",
    "update_participants_permissions",
]

log = logging.getLogger(__name__)

MAX_BULK_IDENTITIES: Final = 1000
"""The most distinct identities one bulk call may name; more is a 400 naming `identities`."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one identity of a bulk act: done, or the error its single act raised."""

    identity: str
    error: GxrtcError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def _each(
    core: Core,
    principal: Principal,
    action: str,
    room: str | None,
    identities: Sequence[str] | None,
    act: Callable[[str], Awaitable[object]],
    *,
    room_must_exist: bool = True,
    **detail: object,
) -> list[ItemResult]:
    room = check_name(room, "room")
    distinct = check_identities(identities, "identities", maximum=MAX_BULK_IDENTITIES)
    async with audited(core, principal, action, room, None, count=len(distinct), **detail) as bulk:
        policy.require_moderator(principal, room)
        if room_must_exist and not await core.livekit.list_rooms([room]):
            raise RoomNotFound(room)
        limit = asyncio.Semaphore(core.settings.bulk_concurrency)

        async def one(identity: str) -> ItemResult:
            async with limit:
                try:
                    await act(identity)
                except GxrtcError as error:
                    return ItemResult(identity, error)
                except Exception:
                    # A bug in one item must not cost the others their answers; it is masked, as it would be alone.
                    log.exception("bulk %s failed for %s in room %s", action, identity, room)
                    return ItemResult(identity, GxrtcError())
                return ItemResult(identity)

        results = await asyncio.gather(*(one(identity) for identity in distinct))
        bulk.row["detail"]["succeeded"] = sum(result.ok for result in results)
    return results


async def kick_participants(
    core: Core, principal: Principal, room: str | None, identities: Sequence[str] | None
) -> list[ItemResult]:
    """Kick each identity from `room`; an identity not there gets its own NOT_FOUND."""
    return await _each(
        core,
        principal,
        "kick_many",
        room,
        identities,
        lambda identity: participants.kick_participant(core, principal, room, identity),
    )


async def mute_participants(
    core: Core,
    principal: Principal,
    room: str | None,
    identities: Sequence[str] | None,
    *,
    sources: Sequence[str] | None = None,
    muted: bool = True,
) -> list[ItemResult]:
    """Mute (or unmute) each identity's tracks of `sources` (none given: its microphone, as the single act)."""
    wanted: list[str | None] = list(dict.fromkeys(_check_source(source) for source in sources)) if sources else [None]

    async def mute(identity: str) -> None:
        # One single act per source: each is checked and audited as that act would be alone.
        for source in wanted:
            await participants.mute_participant(core, principal, room, identity, muted=muted, source=source)

    return await _each(
        core,
        principal,
        "mute_many" if muted else "unmute_many",
        room,
        identities,
        mute,
        sources=[source for source in wanted if source is not None] or None,
    )


def _check_source(source: str) -> str:
    if not isinstance(source, str) or source.lower() not in TRACK_SOURCES:
        raise InvalidParameter("sources", f"must be among {', '.join(name.upper() for name in TRACK_SOURCES)}")
    return source.upper()


async def update_participants_permissions(
    core: Core, principal: Principal, room: str | None, identities: Sequence[str] | None, permission: Any
) -> list[ItemResult]:
    """Merge `permission` (partial) into each identity's permission, within what the caller may grant."""
    if permission is None:
        raise MissingParameter("permission")
    if not isinstance(permission, Mapping):
        raise InvalidParameter("permission", "must be a JSON object")
    return await _each(
        core,
        principal,
        "update_permissions_many",
        room,
        identities,
        lambda identity: participants.update_participant(core, principal, room, identity, permission=permission),
    )


async def ban_participants(
    core: Core,
    principal: Principal,
    room: str | None,
    identities: Sequence[str] | None,
    *,
    reason: str | None = None,
    duration_seconds: int | None = None,
) -> list[ItemResult]:
    """Ban each identity from `room` (removed now if there); as the single ban, the room need not be open."""
    # Checked once here as well, so that a bad reason is one 400 rather than one error per identity.
    check_text(reason or "", "reason", bans.MAX_REASON_BYTES)
    check_count(duration_seconds, "duration_seconds", minimum=0, maximum=bans.MAX_BAN_SECONDS)
    return await _each(
        core,
        principal,
        "ban_many",
        room,
        identities,
        lambda identity: bans.ban_participant(
            core, principal, room, identity, reason=reason, duration_seconds=duration_seconds
        ),
        room_must_exist=False,
    )
