"""Which room events report the same change, so that subscribers get each change once.

One change can be reported several times: a room created or deleted, or a participant kicked,
through this API is announced by us at once (a deployment may have no webhooks) and again by
LiveKit's webhook; LiveKit retries a webhook, and sends `participant_connection_aborted` as well as
`participant_left`; each instance's reconciler may find the same join or leave, and so may a
webhook. Every report of one change gets the same event id, made here from what identifies the
change, and the broker drops an id it has already published within its dedupe window
(`events.DEFAULT_DEDUPE_TTL`, on every instance at once through Redis), whichever report comes
first. A dropped duplicate takes no sequence number, so `sequence` still only grows.

"The same change" is its kind, its room and the LiveKit sid of what changed: the room's sid for a
room opened or closed, the participant's sid for a join, a leave or a removal by a ban or lock (the
webhook's check and the reconciler's may both find a late joiner), the track's sid for a track
published or unpublished, and the participant's sid and version for a reconciler's update. A sid
names one room, one participant's stay in it, one track, never reused: a room reopened under its
name, or a participant who rejoins, is a new change however soon. A change through this API whose
subject has no sid (none was known) keeps an id of its own.
"""

from __future__ import annotations

import hashlib
import time
from typing import Final

from livekit.protocol import models

from .events import EventKind
from .events.model import DEFAULT_DEDUPE_TTL

__all__ = ["change_id", "room_may_be_new"]

_BY_ROOM: Final = frozenset({"room_started", "room_finished"})
_BY_PARTICIPANT: Final = frozenset({"participant_joined", "participant_left", "participant_refused"})
_BY_TRACK: Final = frozenset({"track_published", "track_unpublished"})


def change_id(
    kind: EventKind,
    room: str,
    *,
    room_sid: str = "",
    participant: models.ParticipantInfo | None = None,
    track: models.TrackInfo | None = None,
    with_version: bool = False,
) -> str | None:
    """The id every report of this change carries; None when nothing identifies it (give it an id of its own).

    `with_version`: a participant's update, identified by the participant's version (the reconciler's).
    """
    if kind in _BY_ROOM:
        subject = room_sid
    elif kind in _BY_PARTICIPANT:
        subject = participant.sid if participant is not None else ""
    elif kind in _BY_TRACK:
        subject = track.sid if track is not None else ""
    elif with_version and participant is not None and participant.sid:
        subject = f"{participant.sid}@{participant.version}"
    else:
        subject = ""
    if not subject:
        return None
    seed = f"{kind}|{room}|{subject}"
    return "change-" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def room_may_be_new(room: models.Room) -> bool:
    """Whether a room that CreateRoom answered with may have just opened.

    CreateRoom answers with the room as it is when it exists already. One opened within the dedupe
    window has the id its opening had, and is dropped as its duplicate; an older one opened nothing.
    """
    return time.time() - room.creation_time < DEFAULT_DEDUPE_TTL
