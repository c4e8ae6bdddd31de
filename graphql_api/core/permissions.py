"""Partial participant permissions, checked and merged into LiveKit's message.

LiveKit's UpdateParticipant replaces the whole permission object, so a caller
who sends only ``{"can_publish": false}`` would otherwise also revoke
subscribing. A patch is therefore merged into the participant's current
permission before it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livekit.protocol import models

from ..errors import InvalidParameter
from .vocabulary import PERMISSION_FIELDS

__all__ = ["merge_permission"]

_SOURCES = {value.name: value.number for value in models.TrackSource.DESCRIPTOR.values}
_LIST_FIELDS = {"can_publish_sources"}


def _source(value: Any) -> int:
    if isinstance(value, str) and value.upper() in _SOURCES:
        return _SOURCES[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in _SOURCES.values():
        return value
    names = ", ".join(name for name in _SOURCES if name != "UNKNOWN")
    raise InvalidParameter("permission", f"can_publish_sources has an unknown source {value!r}; use {names}")


def merge_permission(current: models.ParticipantPermission, patch: Mapping[str, Any]) -> models.ParticipantPermission:
    if not isinstance(patch, Mapping):
        raise InvalidParameter("permission", "must be a JSON object")
    merged = models.ParticipantPermission()
    merged.CopyFrom(current)
    for key, value in patch.items():
        if key not in PERMISSION_FIELDS:
            raise InvalidParameter(
                "permission", f"has an unknown key {key!r}; known keys: {', '.join(PERMISSION_FIELDS)}"
            )
        if key in _LIST_FIELDS:
            if not isinstance(value, list):
                raise InvalidParameter("permission", f"{key} must be a list of track sources")
            sources = [_source(item) for item in value]
            del merged.can_publish_sources[:]
            merged.can_publish_sources.extend(sources)  # type: ignore[arg-type]
        else:
            if not isinstance(value, bool):
                raise InvalidParameter("permission", f"{key} must be true or false")
            setattr(merged, key, value)
    return merged
