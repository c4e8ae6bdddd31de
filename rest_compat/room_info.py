"""REST compat's routes for the room itself: `POST /room/{room}/metadata` (form `metadata`) and
`POST /room/{room}/message` (form `payload`; optional `topic`, `identities` repeated or comma-separated)
(`graphql_api.core.room_info`, `graphql_api.core.messages`)."""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import messages as message_ops
from graphql_api.core import room_info as room_info_ops

from .envelope import EnvelopeResponse, ok
from .forms import list_param, read_params
from .openapi import NAME, ROOM, body, responses
from .proto_json import message_to_dict
from .table import caller, router

__all__ = ["send_message", "update_room_metadata"]


@router.post(
    "/room/{room}/metadata",
    openapi_extra={
        **body({"metadata": {"type": "string", "description": '"" clears it'}}, ["metadata"]),
        **responses(ROOM, "the room with its new metadata"),
    },
)
async def update_room_metadata(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    updated = await room_info_ops.update_room_metadata(core, principal, room, params.get("metadata"))
    return ok(message_to_dict(updated))


@router.post(
    "/room/{room}/message",
    openapi_extra={
        **body(
            {
                "payload": {
                    "type": "string",
                    "minLength": 1,
                    # What can never exceed the default 15 KiB, whatever the characters (as NAME does).
                    "maxLength": 3840,
                    "description": "text, 1 to GXRTC_MAX_MESSAGE_BYTES bytes of UTF-8",
                },
                "topic": NAME,
                "identities": {"type": "array", "items": NAME, "description": "none: everyone in the room"},
            },
            ["payload"],
        ),
        **responses(
            {
                "type": "object",
                "properties": {
                    "room": {"type": "string"},
                    "topic": {"type": ["string", "null"]},
                    "identities": {"type": "array", "items": {"type": "string"}},
                    "payload_bytes": {"type": "integer"},
                },
                "required": ["room", "topic", "identities", "payload_bytes"],
            },
            "sent, reliably",
        ),
    },
)
async def send_message(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    sent = await message_ops.send_message(
        core,
        principal,
        room,
        params.get("payload"),
        identities=list_param(params, "identities"),
        topic=params.get("topic") or None,
    )
    return ok(
        {
            "room": sent.room,
            "topic": sent.topic,
            "identities": list(sent.identities),
            "payload_bytes": sent.payload_bytes,
        }
    )
