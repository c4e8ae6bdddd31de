"""Room events: what this API changed, published to subscribers; and the subscription itself, snapshot first."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from livekit.protocol import models

from ..errors import Forbidden, Unauthenticated
from . import policy
from .auth import Principal
from .events import EventKind, RoomEvent, Subscription
from .metrics import SUBSCRIPTIONS_OPEN
from .validation import check_name

if TYPE_CHECKING:
    from .services import Core

__all__ = ["emit", "room_events"]

log = logging.getLogger(__name__)


async def emit(
    core: Core,
    principal: Principal,
    kind: EventKind,
    room: str,
    *,
    participant: models.ParticipantInfo | None = None,
    track: models.TrackInfo | None = None,
    event_id: str | None = None,
    reason: str | None = None,
    until: float | None = None,
    identities: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    topic: str | None = None,
    metadata: str | None = None,
) -> None:
    """Tell subscribers what was done through this API: LiveKit sends no webhook for most of it.

    `event_id`: the change's id where LiveKit reports it too (see changes), so it is delivered once.

    The change itself has happened, so a broker failure is logged, not raised:
    events are at-most-once, and the reconciler repairs what subscribers missed.
    """
    # Before answering, so the caller's next read here sees its own change; other
    # instances drop the room when the event reaches them.
    core.forget(room)
    event = RoomEvent(
        kind=kind,
        room=room,
        id=event_id or uuid.uuid4().hex,
        at=time.time(),
        source="api",
        actor=principal.uid,
        participant=participant,
        track=track,
        reason=reason,
        until=until,
        identities=identities,
        sources=sources,
        topic=topic,
        metadata=metadata,
    )
    try:
        await core.broker.publish(event)
    except Exception:
        log.warning("could not publish %s for room %s; the reconciler will repair it", kind, room, exc_info=True)


async def room_events(core: Core, principal: Principal, room: str | None) -> AsyncGenerator[RoomEvent, None]:
    """A room's events as they happen, starting with a snapshot of who is in it.

    Authorized like reads; every room at once (`room` None) is for admins, or
    for users where reads are open to them. Whenever the subscription lost
    events (a slow consumer, a broker reconnect), a fresh snapshot comes
    first, so the client's picture is whole again. A credential's expiry ends
    what it opened: the stream ends with `Unauthenticated` when it expires,
    whichever transport carries it (a WebSocket is also closed with 4403 then).
    """
    if room is None:
        if policy.readable_rooms(principal, core.settings) is not None:
            raise Forbidden("only an admin may follow every room")
    else:
        room = check_name(room, "room")
        policy.require_reader(principal, core.settings, room)
    subscription = core.broker.subscribe(room)
    SUBSCRIPTIONS_OPEN.inc()
    try:
        if room is not None:
            yield await _snapshot(core, room)
        while True:
            # get() also wakes an idle subscriber the moment it lost events, so its resync
            # snapshot comes at once rather than with the next event.
            event = await _next(subscription, principal.expires_at)
            if subscription.reset_lost() and room is not None:
                yield await _snapshot(core, room)
            if event is not None:
                yield event
            elif subscription.closed:
                return
    finally:
        SUBSCRIPTIONS_OPEN.dec()
        await subscription.aclose()


async def _next(subscription: Subscription, expires_at: float | None) -> RoomEvent | None:
    if expires_at is None:
        return await subscription.get()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(loop.time() + expires_at - time.time()):
            return await subscription.get()
    except TimeoutError:
        raise Unauthenticated("the token has expired") from None


async def _snapshot(core: Core, room: str) -> RoomEvent:
    participants = await core.livekit.list_participants(room)
    for listener in core.snapshot_listeners:
        listener(room, participants)
    return RoomEvent(
        kind="snapshot",
        room=room,
        id=uuid.uuid4().hex,
        at=time.time(),
        source="reconcile",
        participants=tuple(participants),
    )
