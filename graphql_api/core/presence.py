"""Presence across rooms: which rooms an identity is in now, and since when, without asking LiveKit per request.

Why: LiveKit lists participants one room at a time, so "where is user X?"
would cost one ListParticipants per room per question. Instead each instance
keeps an index, identity to its stays (room, since when, LiveKit's sid):

- rebuilt by a sweep (`PresenceIndex.run`, a background task like the
  reconciler) every `GXRTC_PRESENCE_SWEEP_SECONDS`: one ListRooms and one
  ListParticipants per room, at most `GXRTC_FANOUT_CONCURRENCY` at once;
- kept between sweeps by the room events every instance receives through the
  broker (LiveKit's webhooks, our own kicks and bans, the reconciler's
  findings, rooms finished): a join adds a stay, a leave, a removal, a ban or
  a room's end takes it away. A subscription that lost events sweeps at once.

So an answer is at most one sweep interval old, and as fresh as the event
stream when LiveKit's webhooks reach the service (LiveKit sends none for a
participant that never connects its media; the sweep finds those).

Events that arrive while a sweep is listing are replayed over its result, so a
leave seen during the sweep is not undone by a listing taken before it.
Answers come after the first sweep (or 503 when it cannot be made in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from livekit.protocol import models

from ..errors import Forbidden, ServiceUnavailable
from . import policy
from .auth import Principal
from .events import RoomEvent, Subscription
from .validation import check_identities, check_name

if TYPE_CHECKING:
    from .services import Core

__all__ = ["MAX_PRESENCE_IDENTITIES", "Presence", "PresenceIndex", "PresenceReport", "Stay", "presence"]

log = logging.getLogger(__name__)

MAX_PRESENCE_IDENTITIES: Final = 1000
"""The most distinct identities one presence question may name; more is a 400 naming `identities`."""

_GONE: Final = frozenset({"participant_left", "participant_refused", "participant_banned"})
"""Events after which the identity is no longer in the room (a ban removes it; a refusal is a removal)."""


@dataclass(frozen=True, slots=True)
class Stay:
    """An identity's being in a room: since when (Unix seconds) and as which LiveKit participant (sid)."""

    room: str
    joined_at: float
    sid: str


@dataclass(frozen=True, slots=True)
class Presence:
    identity: str
    stays: tuple[Stay, ...]
    """The rooms it is in, by room name."""


@dataclass(frozen=True, slots=True)
class PresenceReport:
    presence: list[Presence]
    swept_at: float
    """When the last sweep listed LiveKit (Unix seconds); events since then are in the answer too."""


def _stay(room: str, participant: models.ParticipantInfo) -> Stay:
    joined = participant.joined_at_ms / 1000 if participant.joined_at_ms else float(participant.joined_at)
    return Stay(room=room, joined_at=joined, sid=participant.sid)


class PresenceIndex:
    """Who is in which room, by identity, as of the last sweep and the events since."""

    def __init__(self) -> None:
        self._by_identity: dict[str, dict[str, Stay]] = {}
        self._by_room: dict[str, set[str]] = {}
        self._during_sweep: list[RoomEvent] | None = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self.swept_at = 0.0

    # -- reading

    def stays(self, identity: str) -> tuple[Stay, ...]:
        return tuple(sorted(self._by_identity.get(identity, {}).values(), key=lambda stay: stay.room))

    async def wait_ready(self, deadline: float) -> None:
        """Until the first sweep has been made; ServiceUnavailable if it is not made within `deadline` seconds."""
        if self._ready.is_set():
            return
        try:
            async with asyncio.timeout(deadline):
                await self._ready.wait()
        except TimeoutError:
            raise ServiceUnavailable(
                "presence is not known yet: the media server has not been listed", reason="presence unavailable"
            ) from None

    # -- keeping it

    def observe(self, event: RoomEvent) -> None:
        """Learn from a room event (any instance's, through the broker)."""
        if self._during_sweep is not None:
            self._during_sweep.append(event)
        self._apply(event)

    def _apply(self, event: RoomEvent) -> None:
        if event.kind == "room_finished":
            for identity in self._by_room.pop(event.room, set()):
                self._forget(identity, event.room)
            return
        participant = event.participant
        if participant is None or not participant.identity:
            return
        if event.kind == "participant_joined" and participant.sid:
            self._add(event.room, participant)
        elif event.kind in _GONE:
            known = self._by_identity.get(participant.identity, {}).get(event.room)
            # A leave of an earlier stay (its sid) must not remove the participant who rejoined since.
            if known is not None and (not participant.sid or participant.sid == known.sid):
                self._forget(participant.identity, event.room)
                self._by_room.get(event.room, set()).discard(participant.identity)

    def _add(self, room: str, participant: models.ParticipantInfo) -> None:
        if participant.state == models.ParticipantInfo.State.DISCONNECTED:
            return
        self._by_identity.setdefault(participant.identity, {})[room] = _stay(room, participant)
        self._by_room.setdefault(room, set()).add(participant.identity)

    def _forget(self, identity: str, room: str) -> None:
        stays = self._by_identity.get(identity)
        if stays is None:
            return
        stays.pop(room, None)
        if not stays:
            del self._by_identity[identity]

    def replace(self, listing: dict[str, Sequence[models.ParticipantInfo]], events: Sequence[RoomEvent] = ()) -> None:
        """Everyone in every room, as just listed; then `events` that arrived meanwhile, in order."""
        self._by_identity = {}
        self._by_room = {}
        for room, participants in listing.items():
            for participant in participants:
                self._add(room, participant)
        for event in events:
            self._apply(event)
        self.swept_at = time.time()
        self._ready.set()

    async def sweep(self, core: Core) -> None:
        """List every room's participants and make that the index (with the events that came meanwhile)."""
        self._during_sweep = []
        try:
            rooms = [room.name for room in await core.livekit.list_rooms()]
            limit = asyncio.Semaphore(core.settings.fanout_concurrency)

            async def participants_of(room: str) -> list[models.ParticipantInfo]:
                async with limit:
                    return await core.livekit.list_participants(room)

            everyone = await asyncio.gather(*(participants_of(room) for room in rooms))
            self.replace(dict(zip(rooms, everyone, strict=True)), self._during_sweep)
        finally:
            self._during_sweep = None

    async def run(self, core: Core, interval: float) -> None:
        """Forever, until cancelled: follow every room's events, and sweep every `interval` seconds."""
        subscription = core.broker.subscribe(None, watch=False)
        listener = asyncio.create_task(self._listen(subscription))
        try:
            while True:
                try:
                    await self.sweep(core)
                except Exception:
                    log.warning("the presence sweep failed; trying again in %ss", interval, exc_info=True)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            listener.cancel()
            await subscription.aclose()

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            if subscription.reset_lost():
                self._wake.set()  # what was missed may have been a join or a leave
            self.observe(event)


async def presence(core: Core, principal: Principal, identities: Sequence[str] | None) -> PresenceReport:
    """For each identity, the rooms it is in now and since when, among the rooms the caller may read.

    Authorized like every read (`policy.readable_rooms`): a moderator sees only
    its rooms' stays, an admin all; a user nothing unless reads are open to users.
    """
    distinct = check_identities(identities, "identities", maximum=MAX_PRESENCE_IDENTITIES)
    for identity in distinct:
        check_name(identity, "identities")
    readable = policy.readable_rooms(principal, core.settings)
    if readable is not None and not readable:
        raise Forbidden("you may not read who is in which room")
    await core.presence.wait_ready(core.settings.livekit_timeout_seconds)
    return PresenceReport(
        presence=[
            Presence(
                identity,
                tuple(stay for stay in core.presence.stays(identity) if readable is None or stay.room in readable),
            )
            for identity in distinct
        ],
        swept_at=core.presence.swept_at,
    )
