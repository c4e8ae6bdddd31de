"""LiveKit protobuf messages as the JSON the API document shows.

Proto field names (snake_case), enums by name, every field present (zero
values included, so clients need no defaults table; secrets, see `redaction`,
always empty), and 64-bit integers as JSON numbers (``creation_time``,
``joined_at``): protobuf's own JSON mapping would write those as strings,
which is not what legacy clients parse.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from graphql_api.core.redaction import SECRET_FIELDS

__all__ = ["message_to_dict"]

_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_ENUM = FieldDescriptor.TYPE_ENUM
_BYTES = FieldDescriptor.TYPE_BYTES


def _convert(field: FieldDescriptor, value: Any) -> Any:
    kind = field.type
    if kind == _MESSAGE:
        return message_to_dict(value)
    if kind == _ENUM:
        enum_value = field.enum_type.values_by_number.get(value)  # type: ignore[union-attr]
        return enum_value.name if enum_value is not None else value
    if kind == _BYTES:
        return base64.b64encode(value).decode()
    return value


def _plan(descriptor: Descriptor | Any) -> list[tuple[FieldDescriptor, str]]:
    plan: list[tuple[FieldDescriptor, str]] = []
    secret = SECRET_FIELDS.get(descriptor.full_name, frozenset())
    for field in descriptor.fields:
        if field.name in secret:
            shape = "secret"
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            shape = "map"
        elif field.is_repeated:
            shape = "list"
        elif field.has_presence:
            shape = "optional"
        else:
            shape = "plain"
        plan.append((field, shape))
    return plan


_PLANS: dict[str, list[tuple[FieldDescriptor, str]]] = {}


def message_to_dict(message: Message) -> dict[str, Any]:
    descriptor = message.DESCRIPTOR
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _PLANS[descriptor.full_name] = _plan(descriptor)
    out: dict[str, Any] = {}
    for field, shape in plan:
        value = getattr(message, field.name)
        if shape == "plain":
            out[field.name] = _convert(field, value)
        elif shape == "list":
            out[field.name] = [_convert(field, item) for item in value]
        elif shape == "map":
            value_field = field.message_type.fields_by_name["value"]  # type: ignore[union-attr]
            out[field.name] = {key: _convert(value_field, item) for key, item in value.items()}
        elif shape == "secret":
            # The key stays (the document's examples show it), never the value.
            out[field.name] = field.default_value
        elif message.HasField(field.name):
            out[field.name] = _convert(field, value)
    return out
