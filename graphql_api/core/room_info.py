"""The room itself: its metadata, changed through LiveKit's UpdateRoomMetadata.

LiveKit tells the room's participants (`room_metadata_changed` in its SDKs);
this service announces it on `roomEvents` as ROOM_METADATA_UPDATED with the new
metadata, since LiveKit sends no webhook for it. Moderators of the room and
admins; the metadata is bounded like a room's at creation
(`GXRTC_MAX_METADATA_BYTES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livekit.protocol import models

from ..errors import MissingParameter, NotFound, RoomNotFound
from . import policy
from .audit import audited
from .auth import Principal
from .room_events import emit
from .validation import check_name, check_text

if TYPE_CHECKING:
    from .services import Core

__all__ = ["update_room_metadata"]


async def update_room_metadata(core: Core, principal: Principal, room: str | None, metadata: str | None) -> models.Room:
    """Set `room`'s metadata ("" clears it); the room as it is now."""
    room = check_name(room, "room")
    if metadata is None:
        raise MissingParameter("metadata")
    metadata = check_text(metadata, "metadata", core.settings.max_metadata_bytes)
    async with audited(core, principal, "update_room_metadata", room, metadata_bytes=len(metadata.encode())):
        policy.require_moderator(principal, room)
        try:
            updated = await core.livekit.update_room_metadata(room, metadata)
        except NotFound:
            raise RoomNotFound(room) from None
    await emit(core, principal, "room_metadata_updated", room, metadata=updated.metadata)
    return updated
