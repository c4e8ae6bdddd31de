"""Enforcement: who may not be in a room (admission's decision) is removed when seen.

LiveKit lets a removed participant back in with the token it has, and its SDKs
refresh tokens on reconnect, so a ban or a lock holds only if every join is
checked: `receive_webhook` checks each `participant_joined` LiveKit reports,
and `enforce_once` (the reconciler's, every interval) the rooms that have bans
or a lock, for joins whose webhook was lost. A removal is announced as
PARTICIPANT_REFUSED with the reason ("banned", "room locked"). A room muted
all (`mute_all`) is kept here too: each `track_published` it holds is muted.

`follow_rules` drops a room's cached rules when its moderation events arrive,
from this instance or another (through the broker), so a ban made anywhere is
enforced here without waiting for the cache's TTL.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from livekit.protocol import models
from sqlalchemy import or_, select

from ..errors import NotFound
from .admission import ADMITTED_AS, NO_RULES, Refusal, refusal, room_rules
from .changes import change_id
from .events import EventKind, EventSource, RoomEvent
from .mute_all import keep_muted
from .store import EVERY_ROOM, bans, room_locks

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "MODERATION_KINDS",
    "enforce_once",
    "follow_rules",
    "receive_webhook",
    "remove_everywhere",
    "remove_if_present",
]

log = logging.getLogger(__name__)

MODERATION_KINDS: Final[frozenset[EventKind]] = frozenset(
    {"participant_banned", "participant_unbanned", "room_locked", "room_unlocked", "room_muted_all", "room_unmuted_all"}
)
_MAX_PENDING: Final = 1_000
"""Removals under way from webhooks at most; past that the webhook's answer waits for its own."""
_REMOVAL_CONCURRENCY: Final = 8
_pending: set[asyncio.Task[None]] = set()


async def remove_if_present(core: Core, room: str, identity: str) -> bool:
    """Remove `identity` from `room` if it is there; whether it was."""
    try:
        await core.livekit.remove_participant(room, identity)
    except NotFound:
        return False
    core.forget(room)
    return True


async def remove_everywhere(core: Core, identity: str) -> list[str]:
    """Remove `identity` from every room it is in; the rooms it was in."""
    limit = asyncio.Semaphore(_REMOVAL_CONCURRENCY)

    async def remove(room: str) -> str | None:
        async with limit:
            return room if await remove_if_present(core, room, identity) else None

    rooms = await core.livekit.list_rooms()
    return [room for room in await asyncio.gather(*(remove(r.name) for r in rooms)) if room is not None]


async def why_out(core: Core, room: str, participant: models.ParticipantInfo) -> Refusal | None:
    """Why `participant` may not stay in `room` (None: it may), by its token's mark and when it joined."""
    rules = await room_rules(core, room)
    if rules is NO_RULES:
        return None
    joined_at = participant.joined_at_ms / 1000 if participant.joined_at_ms else float(participant.joined_at)
    mark = participant.attributes.get(ADMITTED_AS)
    return refusal(rules, participant.identity, mark, joined_at=joined_at, now=time.time())


async def _turn_away(
    core: Core, room: str, participant: models.ParticipantInfo, why: Refusal, source: EventSource
) -> RoomEvent | None:
    if not await remove_if_present(core, room, participant.identity):
        return None
    event = RoomEvent(
        kind="participant_refused",
        room=room,
        # Found by a webhook and by the reconciler, on whichever instances: one removal, one event.
        id=change_id("participant_refused", room, participant=participant) or uuid.uuid4().hex,
        at=time.time(),
        source=source,
        participant=participant,
        reason=why,
    )
    log.info("removed %s from room %s: %s", participant.identity, room, why)
    try:
        return await core.broker.publish(event)
    except Exception:
        log.warning("could not publish the removal of %s from room %s", participant.identity, room, exc_info=True)
        return None


async def _logged(work: Coroutine[Any, Any, object], what: str) -> None:
    try:
        await work
    except Exception:
        # The reconciler tries again within its interval.
        log.warning("%s failed; the reconciler will try again", what, exc_info=True)


async def receive_webhook(core: Core, event: RoomEvent) -> None:
    """A room event LiveKit reported: remove a joiner who may not be in the room, and publish the event.

    The removal runs as a task (at most `_MAX_PENDING` at once), so LiveKit's
    webhook is answered without waiting on LiveKit's answer to the removal.
    """
    participant = event.participant
    if event.kind == "participant_joined" and participant is not None:
        why = await why_out(core, event.room, participant)
        if why is not None:
            await _in_background(
                _logged(_turn_away(core, event.room, participant, why, "api"), f"removing {participant.identity}")
            )
    elif event.kind == "track_published" and participant is not None and event.track is not None:
        state = (await room_rules(core, event.room)).mute_all
        if state is not None and not event.track.muted and state.holds(participant.identity, event.track.source):
            muting = keep_muted(core, event.room, participant, state, "api", tracks=[event.track])
            await _in_background(_logged(muting, f"muting {participant.identity}'s new track"))
    await core.broker.publish(event)


async def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` as a task, so the webhook is answered without waiting on LiveKit (at most `_MAX_PENDING`)."""
    if len(_pending) < _MAX_PENDING:
        task = asyncio.create_task(work)
        _pending.add(task)
        task.add_done_callback(_pending.discard)
    else:
        await work


async def enforce_once(core: Core) -> list[RoomEvent]:
    """Remove, from the rooms with bans or a lock, whoever may not be there; the removals announced."""
    async with core.store.begin(writes=False) as connection:
        in_force = or_(bans.c.expires_at.is_(None), bans.c.expires_at > time.time())
        ruled = set((await connection.execute(select(bans.c.room).distinct().where(in_force))).scalars())
        ruled |= set((await connection.execute(select(room_locks.c.room))).scalars())
    if not ruled:
        return []
    live = {room.name for room in await core.livekit.list_rooms()}
    targets = live if EVERY_ROOM in ruled else live & ruled
    announced: list[RoomEvent] = []
    for room in sorted(targets):
        for participant in await core.livekit.list_participants(room):
            why = await why_out(core, room, participant)
            if why is not None:
                event = await _turn_away(core, room, participant, why, "reconcile")
                if event is not None:
                    announced.append(event)
    return announced


async def follow_rules(core: Core) -> None:
    """Forever, until cancelled: drop the cached rules of a room whose moderation event arrives.

    A ban event drops every room's: it may be a ban on every room, announced in
    the rooms the identity was removed from.
    """
    subscription = core.broker.subscribe(None, watch=False)
    try:
        async for event in subscription:
            if subscription.reset_lost():  # what was missed may have been a ban
                core.rules.drop(None)
            if event.kind in ("participant_banned", "participant_unbanned"):
                core.rules.drop(None)
            elif event.kind in MODERATION_KINDS:
                core.rules.drop(event.room)
    finally:
        await subscription.aclose()
