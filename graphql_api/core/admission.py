"""Admission: may an identity be in a room now, given the room's bans and lock and who let it in.

One decision (`refusal`), asked by every path that lets someone in or keeps
them: minting a token (both faces, `tokens`), a `participant_joined` webhook and
the reconciler (`enforcement`). The rules a room has (its bans, every-room bans,
its lock) live in the store; they are read through `RulesCache`, per room, at
most `RULES_TTL_SECONDS` old, dropped at once by the moderation events (which
reach other instances through the broker). When the database cannot be read,
the last rules known are used (or none, if the room was never read) and the
next read is tried after the same TTL, so minting keeps working and stays as
stale as the outage is long.

A room's sticky mute-all (`MuteAll`, kept by `mute_all`) is read with its
rules, through the same cache and dropped by the same events: it decides no
admission, but the webhook and the reconciler that keep it ask for it as often.

Who let a participant in is written into its token by us: the attribute
`ADMITTED_AS` ("moderator" in every token a moderator of the room mints;
"admin" in an admin's token minted while the room is locked; absent otherwise).
Participants cannot change their own attributes (`canUpdateOwnMetadata` is
granted only by admins, see `grants`) and the attribute cannot be set through
our API (`participants` refuses the prefix).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from livekit.protocol import models
from sqlalchemy import or_, select

from ..errors import Banned, RoomLocked, ServiceUnavailable
from .auth import Principal
from .store import EVERY_ROOM, bans, room_locks, room_mute_all

if TYPE_CHECKING:
    from .services import Core

__all__ = [
    "ADMITTED_AS",
    "RESERVED_ATTRIBUTE_PREFIX",
    "RULES_TTL_SECONDS",
    "Ban",
    "Lock",
    "MuteAll",
    "Refusal",
    "RoomRules",
    "RulesCache",
    "admitted_as",
    "refusal",
    "require_admitted",
    "room_rules",
]

log = logging.getLogger(__name__)

RESERVED_ATTRIBUTE_PREFIX: Final = "gxrtc."
"""Participant attributes only this service writes (into the tokens it mints)."""
ADMITTED_AS: Final = RESERVED_ATTRIBUTE_PREFIX + "admitted_as"
"""The token attribute saying which role minted it for its room: "admin" or "moderator"; absent for users."""
RULES_TTL_SECONDS: Final = 2.0
"""The longest a room's rules are used before they are read again (events drop them sooner)."""
READ_WAIT_SECONDS: Final = 0.5
"""How long a caller waits for a refresh before it is answered from the rules known before."""

Refusal = Literal["banned", "room locked"]


@dataclass(frozen=True, slots=True)
class Ban:
    room: str
    """The room, or `EVERY_ROOM` ("")."""
    identity: str
    reason: str
    banned_by: str
    banned_at: float
    expires_at: float | None
    """Unix seconds; None: until unbanned."""

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Lock:
    room: str
    locked_by: str
    locked_at: float
    remove_late_joiners: bool


@dataclass(frozen=True, slots=True)
class MuteAll:
    """A room muted all: tracks of `sources` are kept muted, but those of the `excepted` identities."""

    room: str
    muted_by: str
    muted_at: float
    sources: tuple[str, ...]
    """Track source names, lower-case (`vocabulary.TRACK_SOURCES`)."""
    excepted: frozenset[str]
    strict: bool = False
    """Tokens minted meanwhile for identities not excepted cannot publish `sources` at all."""

    def withholds(self, identity: str) -> frozenset[str]:
        """The sources a token minted now for `identity` may not publish (none unless strict)."""
        return frozenset(self.sources) if self.strict and identity not in self.excepted else frozenset()

    def holds(self, identity: str, source: int) -> bool:
        """Whether a track of `source` (LiveKit's TrackSource number) published by `identity` is to be muted."""
        if identity in self.excepted:
            return False
        name = models.TrackSource.Name(source).lower() if source in models.TrackSource.values() else ""
        return name in self.sources


@dataclass(frozen=True, slots=True)
class RoomRules:
    """What admission needs of one room: its bans and the every-room ones, and its lock; and its mute-all."""

    bans: tuple[Ban, ...] = ()
    lock: Lock | None = None
    mute_all: MuteAll | None = None
    _by_identity: dict[str, list[Ban]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for ban in self.bans:
            self._by_identity.setdefault(ban.identity, []).append(ban)

    def ban_of(self, identity: str, now: float) -> Ban | None:
        """The active ban on `identity` (the room's own first), if any: expired bans are not enforced."""
        active = [ban for ban in self._by_identity.get(identity, ()) if ban.active(now)]
        return min(active, key=lambda ban: ban.room == EVERY_ROOM) if active else None

    def active_bans(self, now: float) -> list[Ban]:
        return [ban for ban in self.bans if ban.active(now)]


NO_RULES: Final = RoomRules()


def admitted_as(principal: Principal, room: str) -> str | None:
    """The `ADMITTED_AS` mark a token minted by `principal` for `room` carries (None: a user's, no mark)."""
    if principal.is_admin:
        return "admin"
    if principal.moderates(room):
        return "moderator"
    return None


def refusal(
    rules: RoomRules, identity: str, mark: str | None, *, joined_at: float | None, now: float
) -> Refusal | None:
    """The one admission decision: why `identity` may not be in the room, or None if it may.

    `mark` is who let it in: the minting principal's `admitted_as` when a token
    is asked for (`joined_at` None), the token's `ADMITTED_AS` attribute once it
    is in (`joined_at`: when it joined, Unix seconds). A ban holds for every
    role. A lock refuses tokens to whoever is neither a moderator of the room nor
    an admin; of those in the room, it removes only who joined since it was
    locked (a late joiner with an older token), and only where the lock says so.
    """
    if rules.ban_of(identity, now) is not None:
        return "banned"
    lock = rules.lock
    if lock is None or mark in ("admin", "moderator"):
        return None
    if joined_at is None or (lock.remove_late_joiners and joined_at >= lock.locked_at):
        return "room locked"
    return None


async def require_admitted(core: Core, principal: Principal, room: str, identity: str) -> str | None:
    """Refuse a token for `identity` in `room` (Banned, RoomLocked); else the mark the token carries."""
    mark = admitted_as(principal, room)
    rules = core.rules.fresh(room) or await room_rules(core, room)  # the hot path skips a coroutine
    if rules is not NO_RULES:
        why = refusal(rules, identity, mark, joined_at=None, now=time.time())
        if why == "banned":
            raise Banned(room, identity)
        if why == "room locked":
            raise RoomLocked(room)
    # An admin (a backend's key, often) mints most users' tokens: marked only while the room is locked, so
    # that a lock admits what an admin minted during it and removes late joiners with what it minted before.
    if mark == "admin" and rules.lock is None:
        return None
    return mark


async def room_rules(core: Core, room: str) -> RoomRules:
    return await core.rules.get(room, lambda name: load_rules(core, name))


async def load_rules(core: Core, room: str) -> RoomRules:
    """A room's rules as the store has them now (raises ServiceUnavailable when it cannot be read)."""
    async with core.store.begin(writes=False) as connection:
        ban_rows = (
            await connection.execute(select(bans).where(or_(bans.c.room == room, bans.c.room == EVERY_ROOM)))
        ).all()
        lock_row = (await connection.execute(select(room_locks).where(room_locks.c.room == room))).first()
        mute_row = (await connection.execute(select(room_mute_all).where(room_mute_all.c.room == room))).first()
    found = tuple(
        Ban(
            room=row.room,
            identity=row.identity,
            reason=row.reason,
            banned_by=row.banned_by,
            banned_at=row.banned_at,
            expires_at=row.expires_at,
        )
        for row in ban_rows
    )
    lock = (
        Lock(
            room=lock_row.room,
            locked_by=lock_row.locked_by,
            locked_at=lock_row.locked_at,
            remove_late_joiners=bool(lock_row.remove_late_joiners),
        )
        if lock_row is not None
        else None
    )
    mute_all = (
        MuteAll(
            room=mute_row.room,
            muted_by=mute_row.muted_by,
            muted_at=mute_row.muted_at,
            sources=tuple(mute_row.sources),
            excepted=frozenset(mute_row.excepted),
            strict=bool(mute_row.strict),
        )
        if mute_row is not None
        else None
    )
    if not found and lock is None and mute_all is None:
        return NO_RULES
    return RoomRules(bans=found, lock=lock, mute_all=mute_all)


class RulesCache:
    """Rooms' rules, each at most `ttl` seconds old, at most `max_rooms` of them (least recently read go first).

    One read per room at a time (callers join it). A caller whose room's rules
    are only stale waits for the refresh at most `read_wait` seconds, then gets
    the stale ones; a read that fails keeps the rules known before (or none) for
    another `ttl`, so a database outage costs a read attempt per room per `ttl`.
    """

    def __init__(
        self,
        *,
        ttl: float = RULES_TTL_SECONDS,
        max_rooms: int = 10_000,
        read_wait: float = READ_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_rooms
        self._read_wait = read_wait
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RoomRules]] = OrderedDict()
        self._flights: dict[str, asyncio.Task[RoomRules]] = {}
        self._generation = 0

    def fresh(self, room: str) -> RoomRules | None:
        """`room`'s rules if they are no older than the TTL, else None (without reading them)."""
        entry = self._entries.get(room)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            return entry[1]
        return None

    async def get(self, room: str, load: Callable[[str], Awaitable[RoomRules]]) -> RoomRules:
        entry = self._entries.get(room)
        if entry is not None and self._clock() - entry[0] < self._ttl:
            self._entries.move_to_end(room)
            return entry[1]
        flight = self._flights.get(room)
        if flight is None:
            flight = asyncio.create_task(self._refresh(room, load, entry))
            self._flights[room] = flight
        if entry is None:
            return await asyncio.shield(flight)
        try:
            async with asyncio.timeout(self._read_wait):
                return await asyncio.shield(flight)
        except TimeoutError:
            return entry[1]

    async def _refresh(
        self, room: str, load: Callable[[str], Awaitable[RoomRules]], known: tuple[float, RoomRules] | None
    ) -> RoomRules:
        generation = self._generation
        try:
            rules = await load(room)
        except ServiceUnavailable:
            rules = known[1] if known is not None else NO_RULES
            log.warning("could not read the rules of room %s; using the last known for %ss", room, self._ttl)
        finally:
            if self._flights.get(room) is asyncio.current_task():
                del self._flights[room]
        if generation == self._generation:  # not dropped meanwhile: what was read is still the latest
            self._entries[room] = (self._clock(), rules)
            self._entries.move_to_end(room)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return rules

    def drop(self, room: str | None) -> None:
        """`room`'s rules changed (None: any room's, as an every-room ban does): read them again next time."""
        self._generation += 1
        if room is None:
            self._entries.clear()
            self._flights.clear()
        else:
            self._entries.pop(room, None)
            self._flights.pop(room, None)

    def known(self) -> Mapping[str, RoomRules]:
        return {room: rules for room, (_, rules) in self._entries.items()}
