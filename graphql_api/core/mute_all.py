"""Mute all, sticky: a room's tracks of some sources are muted now and kept muted, but the excepted identities'.

LiveKit has no mute-all: it mutes one published track at a time. So the state
is ours, a row of the store (`store.room_mute_all`: the sources, the excepted
identities, who and when), read with the room's admission rules (the same
cache, dropped by the same events on every instance: `admission`,
`enforcement.follow_rules`). `mute_all` records it, then mutes every current
track of those sources (at most `MUTE_CONCURRENCY` calls to LiveKit at once; a
result per identity); while it holds, a track of those sources that is found
unmuted is muted as soon as we learn of it: at its `track_published` webhook
(`enforcement.receive_webhook`) and, for a webhook that was lost (or a
participant that unmuted itself), by the reconciler (`keep_muted_once`).
With `strict`, tokens minted meanwhile for identities not excepted cannot
publish those sources at all (`tokens`; docs/moderation.md has the trade-off).
`unmute_all` lifts the state and leaves tracks as they are: nobody is unmuted
by it, and who joins afterwards stays unmuted. Both are audited, and announced
on `roomEvents` as ROOM_MUTED_ALL (with `sources`, and the excepted as
`identities`) and ROOM_UNMUTED_ALL; each track muted as TRACK_MUTED.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from livekit.protocol import models
from sqlalchemy import delete, select

from ..errors import GxrtcError, InvalidParameter, NotFound
from . import policy
from .admission import Lock, MuteAll, room_rules
from .audit import audited
from .auth import Principal
from .events import EventSource, RoomEvent
from .room_events import emit
from .rooms import existing_room
from .store import room_mute_all
from .upsert import upsert
from .validation import check_name
from .vocabulary import TRACK_SOURCES

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "MAX_EXCEPTED",
    "MUTE_CONCURRENCY",
    "MuteAllResult",
    "MuteOutcome",
    "RoomModeration",
    "keep_muted",
    "keep_muted_once",
    "mute_all",
    "room_moderation",
    "unmute_all",
]

log = logging.getLogger(__name__)

MAX_EXCEPTED: Final = 1_000
"""Identities a mute-all may except at most."""
MUTE_CONCURRENCY: Final = 8
"""Mute calls to LiveKit under way at once, per mute-all (and per reconciler pass)."""
MUTED_ALL: Final = "muted all"
"""The `reason` of a TRACK_MUTED event that a mute-all caused."""


@dataclass(frozen=True, slots=True)
class MuteOutcome:
    """What a mute-all did to one participant: the tracks it muted, or why it could not."""

    identity: str
    muted_tracks: int = 0
    error: GxrtcError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class MuteAllResult:
    state: MuteAll
    outcomes: tuple[MuteOutcome, ...]
    """One per participant in the room that is not excepted, by identity."""


@dataclass(frozen=True, slots=True)
class RoomModeration:
    """A room's moderation state: its lock and its mute-all, each None when it has none."""

    room: str
    lock: Lock | None
    mute_all: MuteAll | None


def _check_sources(sources: Sequence[str] | None) -> tuple[str, ...]:
    if sources is None:
        return ("microphone",)
    wanted = tuple(sorted({source.lower() for source in sources}))
    if not wanted:
        raise InvalidParameter("sources", "must name at least one track source")
    unknown = [source for source in wanted if source not in TRACK_SOURCES]
    if unknown:
        raise InvalidParameter("sources", f"has unknown sources {unknown}; use {list(TRACK_SOURCES)}")
    return wanted


def _check_excepted(excepted: Sequence[str] | None) -> frozenset[str]:
    if excepted is None:
        return frozenset()
    if len(excepted) > MAX_EXCEPTED:
        raise InvalidParameter("except", f"must name at most {MAX_EXCEPTED} identities")
    return frozenset(check_name(identity, "except") for identity in excepted)


async def mute_all(
    core: Core,
    principal: Principal,
    room: str | None,
    *,
    excepted: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
    strict: bool = False,
) -> MuteAllResult:
    """Mute `room`'s tracks of `sources` (microphones by default) but the `excepted` identities', and keep them so.

    A second call replaces the state (its sources and exceptions), and mutes by
    the new one; it never unmutes.
    """
    room = check_name(room, "room")
    wanted = _check_sources(sources)
    spared = _check_excepted(excepted)
    detail = {"sources": list(wanted), "excepted": sorted(spared), "strict": strict}
    async with audited(core, principal, "mute_all", room, None, **detail) as act:
        policy.require_moderator(principal, room)
        await existing_room(core, room)
        state = MuteAll(
            room=room, muted_by=principal.uid, muted_at=time.time(), sources=wanted, excepted=spared, strict=strict
        )
        # Stored before the tracks are muted, so a track published meanwhile is held by the state.
        async with act.transaction() as connection:
            await upsert(
                connection,
                room_mute_all,
                ("room",),
                {
                    "room": room,
                    "muted_by": state.muted_by,
                    "muted_at": state.muted_at,
                    "sources": list(wanted),
                    "excepted": sorted(spared),
                    "strict": strict,
                },
            )
    core.rules.drop(room)
    await emit(core, principal, "room_muted_all", room, identities=tuple(sorted(spared)), sources=wanted)
    participants = await core.livekit.list_participants(room)
    limit = asyncio.Semaphore(MUTE_CONCURRENCY)

    async def one(participant: models.ParticipantInfo) -> MuteOutcome:
        try:
            muted = await keep_muted(core, room, participant, state, "api", limit=limit)
        except GxrtcError as error:
            return MuteOutcome(participant.identity, error=error)
        return MuteOutcome(participant.identity, muted_tracks=len(muted))

    spared_now = [p for p in participants if p.identity not in spared]
    outcomes = await asyncio.gather(*(one(participant) for participant in spared_now))
    return MuteAllResult(state=state, outcomes=tuple(sorted(outcomes, key=lambda outcome: outcome.identity)))


async def unmute_all(core: Core, principal: Principal, room: str | None) -> bool:
    """Lift `room`'s mute-all; True if it was muted all. Tracks stay as they are."""
    room = check_name(room, "room")
    async with audited(core, principal, "unmute_all", room) as act:
        policy.require_moderator(principal, room)
        async with act.transaction() as connection:
            result = await connection.execute(delete(room_mute_all).where(room_mute_all.c.room == room))
        if not result.rowcount:
            await existing_room(core, room)  # nothing to lift: a 404 if there is no such room either
    core.rules.drop(room)
    await emit(core, principal, "room_unmuted_all", room)
    return bool(result.rowcount)


async def room_moderation(core: Core, principal: Principal, room: str | None) -> RoomModeration:
    """`room`'s lock and mute-all (read like admission reads them)."""
    room = check_name(room, "room")
    policy.require_moderator(principal, room)
    rules = await room_rules(core, room)
    return RoomModeration(room=room, lock=rules.lock, mute_all=rules.mute_all)


async def keep_muted(
    core: Core,
    room: str,
    participant: models.ParticipantInfo,
    state: MuteAll,
    source: EventSource,
    *,
    tracks: Sequence[models.TrackInfo] | None = None,
    limit: asyncio.Semaphore | None = None,
) -> list[models.TrackInfo]:
    """Mute what `state` holds of `participant`'s `tracks` (all of its tracks by default) and is not muted yet.

    Each track muted is announced as TRACK_MUTED (reason "muted all", actor who
    muted the room); a participant that has left meanwhile is not an error.
    """
    to_mute = [
        track
        for track in (participant.tracks if tracks is None else tracks)
        if not track.muted and state.holds(participant.identity, track.source)
    ]
    limit = limit or asyncio.Semaphore(MUTE_CONCURRENCY)

    async def mute(track: models.TrackInfo) -> models.TrackInfo | None:
        async with limit:
            try:
                return await core.livekit.mute_track(room, participant.identity, track.sid, True)
            except NotFound:
                return None

    muted = [track for track in await asyncio.gather(*(mute(track) for track in to_mute)) if track is not None]
    if muted:
        core.forget(room)
    for track in muted:
        event = RoomEvent(
            kind="track_muted",
            room=room,
            id=uuid.uuid4().hex,
            at=time.time(),
            source=source,
            actor=state.muted_by,
            participant=participant,
            track=track,
            reason=MUTED_ALL,
        )
        try:
            await core.broker.publish(event)
        except Exception:
            log.warning("could not publish the mute of %s in room %s", participant.identity, room, exc_info=True)
    return muted


async def keep_muted_once(core: Core) -> int:
    """The reconciler's pass: in every live room muted all, mute what is held and found unmuted; how many tracks."""
    async with core.store.begin(writes=False) as connection:
        rooms = set((await connection.execute(select(room_mute_all.c.room))).scalars())
    if not rooms:
        return 0
    live = {room.name for room in await core.livekit.list_rooms(sorted(rooms))}
    limit = asyncio.Semaphore(MUTE_CONCURRENCY)
    count = 0
    for room in sorted(live):
        state = (await room_rules(core, room)).mute_all
        if state is None:
            continue
        participants = await core.livekit.list_participants(room)
        done = await asyncio.gather(*(keep_muted(core, room, p, state, "reconcile", limit=limit) for p in participants))
        count += sum(len(tracks) for tracks in done)
    return count
