"""REST compat's room routes: create (`/room` and `/room/` alike: neither redirects, since a redirect loses a
form POST body in many clients), list and delete (`graphql_api.core.rooms`)."""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import rooms as room_ops

from .envelope import EnvelopeResponse, ok
from .forms import int_param, read_params
from .openapi import NAME, ROOM, body, responses
from .proto_json import message_to_dict
from .table import caller, router

__all__ = ["create_room", "delete_room", "list_rooms"]

_COUNT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}

_CREATE_ROOM = {
    **body(
        {
            "room": NAME,
            "empty_timeout": _COUNT,
            "departure_timeout": _COUNT,
            "max_participants": _COUNT,
            "metadata": {"type": "string"},
        },
        ["room"],
    ),
    **responses(ROOM, "the room, created or as it was"),
}


@router.post("/room", openapi_extra=_CREATE_ROOM)
@router.post("/room/", include_in_schema=False)
async def create_room(request: Request) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    room = await room_ops.create_room(
        core,
        principal,
        name=params.get("room"),
        empty_timeout=int_param(params, "empty_timeout"),
        departure_timeout=int_param(params, "departure_timeout"),
        max_participants=int_param(params, "max_participants"),
        metadata=params.get("metadata"),
    )
    return ok(message_to_dict(room))


@router.get(
    "/room",
    openapi_extra=responses(
        {"type": "object", "properties": {"rooms": {"type": "array", "items": ROOM}}, "required": ["rooms"]},
        "the rooms the caller may see",
    ),
)
@router.get("/room/", include_in_schema=False)
async def list_rooms(request: Request) -> EnvelopeResponse:
    rooms = await room_ops.list_rooms(*await caller(request))
    return ok({"rooms": [message_to_dict(room) for room in rooms]})


@router.delete("/room/{room}", openapi_extra=responses(ROOM, "the room as it was"))
async def delete_room(request: Request, room: str) -> EnvelopeResponse:
    deleted = await room_ops.delete_room(*await caller(request), room)
    return ok(message_to_dict(deleted))
