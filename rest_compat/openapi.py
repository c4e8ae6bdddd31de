"""The OpenAPI description of REST compat: form bodies, the envelope, and LiveKit's messages.

The routes read their own bodies (form, multipart or JSON alike), so FastAPI
cannot infer them; this module says what they take and answer, and generates
JSON Schemas for Room and ParticipantInfo from LiveKit's protobuf descriptors,
so the description cannot drift from what `message_to_dict` writes (secrets always empty).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from livekit.protocol import models

from graphql_api.core.redaction import SECRET_FIELDS
from graphql_api.core.vocabulary import PERMISSION_FIELDS, PERMISSION_SWITCHES, TRACK_SOURCES

__all__ = ["ATTRIBUTES", "COMPONENTS", "NAME", "PARTICIPANT", "PERMISSION", "ROOM", "body", "responses"]

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
}
_UNSIGNED = {
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
}


def _field_schema(field: FieldDescriptor, components: dict[str, Any]) -> dict[str, Any]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message = field.message_type
        assert message is not None
        if message.GetOptions().map_entry:
            value = _field_schema(message.fields_by_name["value"], components)
            return {"type": "object", "additionalProperties": value}
        schema: dict[str, Any] = {"$ref": f"#/components/schemas/{_message_schema(message, components)}"}
    elif field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        schema = {"type": "string", "enum": [value.name for value in field.enum_type.values]}
    elif field.type in _SCALARS:
        schema = dict(_SCALARS[field.type])
    else:
        schema = {"type": "integer"}
        if field.type in _UNSIGNED:
            schema["minimum"] = 0
    if field.is_repeated:
        return {"type": "array", "items": schema}
    return schema


def _message_schema(descriptor: Descriptor | Any, components: dict[str, Any]) -> str:
    name: str = descriptor.name
    if name in components:
        return name
    components[name] = {}  # a placeholder first, so recursive messages terminate
    properties = {field.name: _field_schema(field, components) for field in descriptor.fields}
    for secret in SECRET_FIELDS.get(descriptor.full_name, ()):
        properties[secret] = {**properties[secret], "description": "Always empty: a secret of LiveKit's."}
    always = [field.name for field in descriptor.fields if field.is_repeated or not field.has_presence]
    components[name] = {"type": "object", "properties": properties, "required": always}
    return name


COMPONENTS: dict[str, Any] = {}
_message_schema(models.Room.DESCRIPTOR, COMPONENTS)
_message_schema(models.ParticipantInfo.DESCRIPTOR, COMPONENTS)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ERROR_META = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "error": {"type": "string"}},
    "required": ["code", "message"],
}
_ERROR = {"type": "object", "properties": {"meta": _ERROR_META}, "required": ["meta"]}
_ERROR_STATUSES = {
    "400": "a missing or invalid parameter, or a malformed body",
    "401": "no credential, or one that cannot be trusted",
    "403": "a known caller without the right",
    "404": "no such room, participant or track",
    "405": "a wrong method",
    "409": "LiveKit refused the change",
    "413": "a body over the cap",
    "415": "a body that is neither a form nor JSON",
    "502": "LiveKit rejected the service's credentials, or failed",
    "503": "LiveKit unreachable, the service overloaded or shutting down",
    "504": "LiveKit did not answer in time",
}


def responses(data: dict[str, Any] | None, description: str) -> dict[str, Any]:
    ok: dict[str, Any] = {
        "type": "object",
        "properties": {"meta": {"type": "object", "properties": {"code": {"const": 200}}, "required": ["code"]}},
        "required": ["meta"],
    }
    if data is not None:
        ok["properties"]["data"] = data
        ok["required"].append("data")
    answers: dict[str, Any] = {"200": {"description": description, "content": {"application/json": {"schema": ok}}}}
    for status, why in _ERROR_STATUSES.items():
        answers[status] = {"description": why, "content": {"application/json": {"schema": _ERROR}}}
    return {"responses": answers}


def body(
    properties: dict[str, dict[str, Any]], required: list[str], *, any_of: list[str] | None = None
) -> dict[str, Any]:
    """Form and JSON bodies. A JSON-valued field (`attrs`, `permission`) is described as the
    object it holds; in a form it travels as text holding that object, which JSON Schema
    cannot state, so forms are described without it (the routes still take it)."""
    media_schemas: dict[str, Any] = {}
    for media in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        props = (
            properties
            if media == "application/json"
            else {name: schema for name, schema in properties.items() if schema.get("type") != "object"}
        )
        if not set(required) <= set(props):
            continue  # a required JSON-valued field: such a form body cannot be described
        schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
        alternatives = [name for name in any_of or [] if name in props]
        if alternatives:
            schema["anyOf"] = [{"required": [name]} for name in alternatives]
        media_schemas[media] = {"schema": schema}
    return {"requestBody": {"required": bool(required or any_of), "content": media_schemas}}


# What is always accepted: LiveKit's limit is 256 bytes of UTF-8, which JSON Schema cannot
# state, so the description promises the 64 characters that can never exceed it.
NAME: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$",
    "description": "1 to 256 bytes of UTF-8, no control characters",
}
ATTRIBUTES: dict[str, Any] = {
    "type": "object",
    "description": "string keys to string values; an empty value deletes its key (in a form: this object as JSON text)",
    "propertyNames": {"minLength": 1},
    "additionalProperties": {"type": "string"},
    "maxProperties": 64,
}
PERMISSION: dict[str, Any] = {
    "type": "object",
    "description": "a partial ParticipantPermission, merged into the current one (in a form: as JSON text)",
    "properties": {
        **{name: {"type": "boolean"} for name in PERMISSION_FIELDS if name in PERMISSION_SWITCHES},
        "can_publish_sources": {
            "type": "array",
            "items": {"type": "string", "enum": [source.upper() for source in TRACK_SOURCES]},
        },
    },
    "additionalProperties": False,
}


ROOM = _ref("Room")
PARTICIPANT = _ref("ParticipantInfo")


PAGE_PARAMETERS: dict[str, Any] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "page size (default 50)"},
    "cursor": {"type": "string", "description": "next_cursor of the page before"},
}


def page_parameters(kind: str) -> dict[str, Any]:
    """`limit` and `cursor` for a listing of `kind`; the cursor's format names whose cursor it takes."""
    return {**PAGE_PARAMETERS, "cursor": {**PAGE_PARAMETERS["cursor"], "format": f"{kind}-cursor"}}


def query_parameters(schemas: dict[str, Any]) -> dict[str, Any]:
    """Optional query parameters, for an operation's `parameters` (path parameters are added by the table).

    An array is sent comma-separated (`state=ACTIVE,JOINED`): OpenAPI's form style, not exploded.
    """
    return {
        "parameters": [
            {"name": name, "in": "query", "schema": schema}
            | ({"style": "form", "explode": False} if schema.get("type") == "array" else {})
            for name, schema in schemas.items()
        ]
    }


def comma_list(names: list[str], description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": names}, "description": description}


def paged(key: str, item: dict[str, Any]) -> dict[str, Any]:
    """A listing's `data`: every item, or (when a page was asked for) a page with its next cursor and total."""
    return {
        "type": "object",
        "properties": {
            key: {"type": "array", "items": item},
            "next_cursor": {"type": ["string", "null"], "description": "only for a page: null on the last one"},
            "total_count": {"type": "integer", "description": "only for a page: matches over every page"},
        },
        "required": [key],
    }
