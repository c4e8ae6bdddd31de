"""Vocabularies that several modules must agree on, each in one place, derived from LiveKit's protobuf descriptors.

- `TRACK_SOURCES`: where a track may come from, lower-case as join-token claims
  name them (`canPublishSources`), in LiveKit's order; `UNKNOWN` is no source
  one can grant. GraphQL's `TrackSource` enum mirrors LiveKit's enum itself
  (graphql_api.schema.types), REST's OpenAPI enums are these names upper-cased, and
  `GXRTC_USER_PUBLISH_SOURCES`' type is checked against them by a unit test
  (a pydantic `Literal` must be spelled out).
- `PERMISSION_SWITCHES`: every on/off grant of LiveKit's ParticipantPermission,
  new ones included as LiveKit adds them.
- `PERMISSION_FIELDS`: what a caller may change of a participant's permission
  (REST's OpenAPI schema is made from it; GraphQL's permission types are held to
  it by a unit test, since Strawberry's types are spelled out).
"""

from __future__ import annotations

from typing import Final

from google.protobuf.descriptor import FieldDescriptor
from livekit.protocol import models

__all__ = ["PERMISSION_FIELDS", "PERMISSION_SWITCHES", "TRACK_SOURCES"]

TRACK_SOURCES: Final = tuple(
    value.name.lower() for value in models.TrackSource.DESCRIPTOR.values if value.number != models.TrackSource.UNKNOWN
)

PERMISSION_SWITCHES: Final = tuple(
    field.name
    for field in models.ParticipantPermission.DESCRIPTOR.fields
    if field.type == FieldDescriptor.TYPE_BOOL and not field.is_repeated
)

PERMISSION_FIELDS: Final = tuple(
    field.name for field in models.ParticipantPermission.DESCRIPTOR.fields if field.name not in ("agent", "recorder")
)
"""What a caller may change; `agent` and `recorder` are LiveKit's own (deprecated) markers."""
