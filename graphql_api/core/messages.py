"""Messages to a room's participants: LiveKit's SendData, reliable, to some identities or to everyone.

So a host can tell a participant why it was muted. The payload is text of at
most `GXRTC_MAX_MESSAGE_BYTES` (what LiveKit's clients take in one reliable
packet), the topic a name (at most 256 bytes), and at most `MAX_RECIPIENTS`
identities (none: everyone in the room). Moderators of the room and admins.

The act is audited and announced on `roomEvents` as MESSAGE_SENT with its
topic and recipients but not its payload: the payload is for its recipients,
while every reader of the room follows its events; the audit row keeps its
size only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ..errors import InvalidParameter, MissingParameter, NotFound
from . import policy
from .audit import audited
from .auth import Principal
from .room_events import emit
from .rooms import existing_room
from .validation import check_name, check_text

if TYPE_CHECKING:
    from .services import Core

__all__ = ["MAX_RECIPIENTS", "SentMessage", "send_message"]

MAX_RECIPIENTS: Final = 1_000


@dataclass(frozen=True, slots=True)
class SentMessage:
    room: str
    topic: str | None
    identities: tuple[str, ...]
    """To whom; empty: everyone in the room."""
    payload_bytes: int


async def send_message(
    core: Core,
    principal: Principal,
    room: str | None,
    payload: str | None,
    *,
    identities: Sequence[str] | None = None,
    topic: str | None = None,
) -> SentMessage:
    room = check_name(room, "room")
    if payload is None:
        raise MissingParameter("payload")
    if payload == "":
        raise InvalidParameter("payload", "must not be empty")
    check_text(payload, "payload", core.settings.max_message_bytes)
    if topic is not None:
        topic = check_name(topic, "topic")
    to = tuple(sorted({check_name(identity, "identities") for identity in identities or ()}))
    if len(to) > MAX_RECIPIENTS:
        raise InvalidParameter("identities", f"must name at most {MAX_RECIPIENTS} identities")
    data = payload.encode()
    sent = SentMessage(room=room, topic=topic, identities=to, payload_bytes=len(data))
    async with audited(core, principal, "send_message", room, topic=topic, identities=list(to), bytes=len(data)):
        policy.require_moderator(principal, room)
        # LiveKit accepts data for a room it does not know (nobody receives it): a 404 is ours to give.
        await existing_room(core, room)
        try:
            await core.livekit.send_data(room, data, topic=topic, identities=list(to))
        except NotFound:
            await existing_room(core, room)
            raise
    await emit(core, principal, "message_sent", room, identities=to, topic=topic)
    return sent
