"""LiveKit's webhooks, verified and turned into room events.

LiveKit signs each delivery with a JWT (signed with our API key pair) whose
`sha256` claim is the body's hash. `livekit.api.WebhookReceiver` does the same
check but compares the hash with `!=`, so it is done here in constant time, and
events older than the configured age are refused so a captured delivery cannot
be replayed later; a replay within that window is dropped by event id in the
broker, and so is the same change reported by our API (see changes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from google.protobuf import json_format
from livekit.api import TokenVerifier
from livekit.protocol import webhook

from ..errors import InvalidParameter, Unauthenticated
from .changes import change_id
from .events import EventKind, RoomEvent
from .metrics import WEBHOOKS

__all__ = ["WebhookIntake"]

_KINDS: dict[str, EventKind] = {
    "room_started": "room_started",
    "room_finished": "room_finished",
    "participant_joined": "participant_joined",
    "participant_left": "participant_left",
    "participant_connection_aborted": "participant_left",
    "track_published": "track_published",
    "track_unpublished": "track_unpublished",
}


class WebhookIntake:
    def __init__(self, api_key: str, api_secret: str, *, max_age_seconds: float) -> None:
        self._verifier = TokenVerifier(api_key, api_secret)
        self._max_age = max_age_seconds

    def receive(self, body: bytes, authorization: str | None) -> RoomEvent | None:
        """The room event a delivery carries; None for events rooms do not care about (egress, ingress)."""
        if not authorization:
            WEBHOOKS.labels("unsigned").inc()
            raise Unauthenticated("a LiveKit webhook must carry its signed Authorization header")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = self._verifier.verify(token)
            signed_hash = base64.b64decode(claims.sha256 or "", validate=True)
        except Exception:  # PyJWT's errors or a malformed hash claim: not signed by our LiveKit
            WEBHOOKS.labels("bad_signature").inc()
            raise Unauthenticated("the webhook signature is not valid") from None
        if not signed_hash or not hmac.compare_digest(hashlib.sha256(body).digest(), signed_hash):
            WEBHOOKS.labels("body_mismatch").inc()
            raise Unauthenticated("the webhook body does not match its signature")
        try:
            event = json_format.Parse(body.decode(), webhook.WebhookEvent(), ignore_unknown_fields=True)
        except (UnicodeDecodeError, json_format.ParseError):
            WEBHOOKS.labels("malformed").inc()
            raise InvalidParameter("body", "must be a LiveKit webhook event") from None
        if event.created_at and time.time() - event.created_at > self._max_age:
            WEBHOOKS.labels("too_old").inc()
            raise Unauthenticated("the webhook event is too old")
        kind = _KINDS.get(event.event)
        if kind is None or not event.room.name:
            WEBHOOKS.labels("ignored").inc()
            return None
        WEBHOOKS.labels("accepted").inc()
        participant = event.participant if event.HasField("participant") else None
        track = event.track if event.HasField("track") else None
        # The change's own id, so our API's report of it and this one are delivered once (see changes).
        change = change_id(kind, event.room.name, room_sid=event.room.sid, participant=participant, track=track)
        return RoomEvent(
            kind=kind,
            room=event.room.name,
            id=change or event.id or hashlib.sha256(body).hexdigest(),
            at=float(event.created_at or time.time()),
            source="livekit",
            participant=participant,
            track=track,
        )
