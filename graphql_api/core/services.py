"""`Core`: the long-lived objects every operation needs, built once per process (in the app's lifespan)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from livekit.protocol import models

from ..settings import Settings
from .admission import RulesCache
from .auth import Authenticator
from .cache import FlightCache
from .events import Broker
from .livekit import LiveKit
from .minter import TokenMinter
from .presence import PresenceIndex
from .store import Store

__all__ = ["Core"]


@dataclass(frozen=True, slots=True)
class Core:
    """The long-lived objects every operation needs, built once per process."""

    settings: Settings
    livekit: LiveKit
    minter: TokenMinter
    authenticator: Authenticator
    broker: Broker
    store: Store
    """Bans, room locks and the audit trail."""
    participants: FlightCache[str, list[models.ParticipantInfo]]
    """Participants by room, for overviews (rooms with their participants): bounded, single-flight, short-lived."""
    room_lists: FlightCache[tuple[str, ...] | None, list[models.Room]]
    """ListRooms answers by the names asked for (None: all), for the same overviews."""
    rules: RulesCache = field(default_factory=RulesCache)
    """Rooms' bans and locks, for admission: short-lived, dropped by the moderation events."""
    presence: PresenceIndex = field(default_factory=PresenceIndex)
    """Who is in which room, by identity: swept from LiveKit and kept by the events (`presence`)."""
    snapshot_listeners: list[Callable[[str, Sequence[models.ParticipantInfo]], None]] = field(default_factory=list)
    """Told of every snapshot a subscriber is given (the reconciler takes its baseline from it)."""

    def forget(self, room: str | None) -> None:
        """`room` changed (None: anything may have): drop what the overview caches hold of it.

        Any room listing may now be wrong (a room's count, a new or closed room), so all of them go.
        """
        self.participants.invalidate(room)
        self.room_lists.invalidate(None)
