"""Repairs what subscribers missed.

Webhooks and pub/sub are at-most-once: LiveKit drops webhooks when it falls
behind, and a broker outage loses what was published meanwhile. So, for the
rooms that have subscribers here, LiveKit's participant list is compared every
few seconds with what the event stream has said, and the difference is
published as events of source "reconcile". A room's baseline is the snapshot
its first subscriber here was given, so what changed between that snapshot and
the first comparison is announced too; a room whose snapshot this reconciler
did not see (it started after the subscription) is only recorded at its first
look, never announced. Each pass also checks the rooms with bans or a lock for
who may not be in them (`enforcement.enforce_once`), for joins whose webhook was lost,
and the rooms muted all for tracks found unmuted (`mute_all.keep_muted_once`).

One duty, one doer: with several workers or instances, a room is compared by the one process that
holds its lease (`lease`: "room:<name>"), and the passes over bans, locks and mute-all by the one that
holds "enforcement", so a repair is published once, a late joiner removed once and a track muted once.
The others still follow every event, so whichever takes a lease over compares with what subscribers
were told.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence

from livekit.protocol import models

from .changes import change_id
from .enforcement import enforce_once
from .events import EventKind, RoomEvent, Subscription
from .lease import Leases, LocalLeases
from .metrics import RECONCILER_REPAIRS
from .mute_all import keep_muted_once
from .services import Core

__all__ = ["ENFORCEMENT_LEASE", "Reconciler", "room_lease"]

log = logging.getLogger(__name__)

ENFORCEMENT_LEASE = "enforcement"
"""The lease of the pass over the rooms with bans or a lock: one per deployment."""


def room_lease(room: str) -> str:
    return f"room:{room}"


class Reconciler:
    def __init__(self, core: Core, leases: Leases | None = None) -> None:
        self._core = core
        self._leases: Leases = leases or LocalLeases()
        self._held: set[str] = set()
        """The leases this process held at its last pass: the rooms it compares (and "enforcement")."""
        self._known: dict[str, dict[str, models.ParticipantInfo]] = {}
        core.snapshot_listeners.append(self.baseline)

    def baseline(self, room: str, participants: Sequence[models.ParticipantInfo]) -> None:
        """A subscriber was shown `participants`: compare with that, unless the room is followed already."""
        self._known.setdefault(room, {participant.identity: participant for participant in participants})

    def observe(self, event: RoomEvent) -> None:
        """Learn from an event the subscribers were told."""
        room = self._known.get(event.room)
        if room is None:
            return
        if event.kind == "room_finished":
            room.clear()
        elif event.kind == "participant_left" and event.participant is not None:
            room.pop(event.participant.identity, None)
        elif event.participant is not None and event.participant.sid:
            known = room.get(event.participant.identity)
            if known is None or event.participant.version >= known.version:
                room[event.participant.identity] = event.participant

    async def run(self, interval: float) -> None:
        """Forever, until cancelled: listen to every room's events, and compare every `interval` seconds."""
        subscription = self._core.broker.subscribe(None, watch=False)
        listener = asyncio.create_task(self._listen(subscription))
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.reconcile_once()
                except Exception:
                    # Which leases are still held is unknown: this pass does no duty.
                    self._held = set()
                    log.warning("reconciliation failed; trying again in %ss", interval, exc_info=True)
                try:
                    await self.enforce_once()
                except Exception:
                    log.warning("enforcing bans and locks failed; trying again in %ss", interval, exc_info=True)
                try:
                    await self.keep_muted_once()
                except Exception:
                    log.warning("keeping rooms muted failed; trying again in %ss", interval, exc_info=True)
        finally:
            listener.cancel()
            await subscription.aclose()
            await self._leases.aclose()

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    async def enforce_once(self) -> list[RoomEvent]:
        """Bans and locks enforced by the one process that holds the enforcement lease."""
        if ENFORCEMENT_LEASE not in self._held:
            return []
        return await enforce_once(self._core)

    async def keep_muted_once(self) -> int:
        """Rooms muted all kept so by the one process that holds the enforcement lease."""
        if ENFORCEMENT_LEASE not in self._held:
            return 0
        return await keep_muted_once(self._core)

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            self.observe(event)

    async def reconcile_once(self) -> list[RoomEvent]:
        watched = self._core.broker.rooms_with_subscribers()
        if watched is None:  # someone follows every room
            watched = {room.name for room in await self._core.livekit.list_rooms()}
        for gone in set(self._known) - watched:
            del self._known[gone]
        # Every pass names every lease wanted, so the enforcement lease is renewed with the rooms'.
        self._held = await self._leases.hold({ENFORCEMENT_LEASE, *map(room_lease, watched)})
        rooms = {room for room in watched if room_lease(room) in self._held}
        published: list[RoomEvent] = []
        for room in sorted(rooms):
            current = await self._core.livekit.list_participants(room)
            for event in self.diff(room, current):
                sequenced = await self._core.broker.publish(event)
                if sequenced is not None:
                    RECONCILER_REPAIRS.labels(sequenced.kind).inc()
                    published.append(sequenced)
        return published

    def diff(self, room: str, current: list[models.ParticipantInfo]) -> list[RoomEvent]:
        now = {participant.identity: participant for participant in current}
        known = self._known.get(room)
        self._known[room] = dict(now)
        if known is None:
            return []
        events: list[RoomEvent] = []
        for identity, participant in now.items():
            before = known.get(identity)
            if before is None:
                events.append(_event("participant_joined", room, participant))
            elif participant.version > before.version and _as_seen(participant) != _as_seen(before):
                # Only what subscribers would see differently: a mute or an update through our API
                # bumps LiveKit's version after the event that already told them.
                events.append(_event("participant_updated", room, participant))
        for identity, participant in known.items():
            if identity not in now:
                events.append(_event("participant_left", room, participant))
        return events


def _as_seen(participant: models.ParticipantInfo) -> tuple[object, ...]:
    """What an event shows of a participant, LiveKit's version and timestamps aside."""
    return (
        participant.state,
        participant.name,
        participant.metadata,
        sorted(participant.attributes.items()),
        participant.permission.SerializeToString(deterministic=True),
        sorted((track.sid, track.muted) for track in participant.tracks),
    )


def _event(kind: EventKind, room: str, participant: models.ParticipantInfo) -> RoomEvent:
    # The same finding by several instances' reconcilers, or by a webhook, is the same change (see
    # changes), so the broker sends it once; a join or leave by its sid, an update by sid and version.
    change = change_id(kind, room, participant=participant, with_version=True)
    seed = f"{kind}|{room}|{participant.sid}|{participant.version}"
    return RoomEvent(
        kind=kind,
        room=room,
        id=change or "reconcile-" + hashlib.sha256(seed.encode()).hexdigest()[:32],
        at=time.time(),
        source="reconcile",
        participant=participant,
    )
