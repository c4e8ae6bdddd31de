"""LiveKit's fields that are secrets: they never leave the service, on either face.

LiveKit's Room carries `turn_password`, the credential its clients use for its
TURN relay; every reader of a room would otherwise get it. The LiveKit adapter
clears these fields as messages arrive, so no cache, event or answer holds
them; REST still writes their keys, always empty, because the API document's
examples show them (GraphQL's Room has no such field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from google.protobuf.message import Message
from livekit.protocol import models

__all__ = ["SECRET_FIELDS", "redact"]

SECRET_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    models.Room.DESCRIPTOR.full_name: frozenset({"turn_password"}),
}
"""Secret fields by protobuf message name."""


def redact(message: Message) -> Message:
    """`message` with its secret fields cleared (in place)."""
    for name in SECRET_FIELDS.get(message.DESCRIPTOR.full_name, ()):
        message.ClearField(name)
    return message
