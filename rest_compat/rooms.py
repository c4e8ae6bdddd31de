"""REST compat's room routes: create (`/room` and `/room/` alike: neither redirects, since a redirect loses a
form POST body in many clients), list (whole, as the document has it, or a page when asked) and delete
(`graphql_api.core.rooms`)."""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import rooms as room_ops

from .envelope import EnvelopeResponse, ok
from .forms import bool_param, int_param, read_params
from .openapi import NAME, PAGE_PARAMETERS, ROOM, body, page_parameters, paged, query_parameters, responses
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


_ROOM_FILTERS = {
    "name_prefix": {"type": "string"},
    "has_participants": {"type": "boolean"},
    "created_since": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "description": "Unix seconds"},
}


@router.get(
    "/room",
    openapi_extra={
        **query_parameters({**page_parameters("room"), **_ROOM_FILTERS}),
        **responses(
            paged("rooms", ROOM), "the rooms the caller may see; a page of them with limit, cursor or a filter"
        ),
    },
)
@router.get("/room/", include_in_schema=False)
async def list_rooms(request: Request) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = dict(request.query_params)
    if not params.keys() & {*PAGE_PARAMETERS, *_ROOM_FILTERS}:
        rooms = await room_ops.list_rooms(core, principal)
        return ok({"rooms": [message_to_dict(room) for room in rooms]})
    page = await room_ops.page_rooms(
        core,
        principal,
        first=int_param(params, "limit"),
        after=params.get("cursor"),
        filter=room_ops.RoomFilter(
            name_prefix=params.get("name_prefix"),
            has_participants=bool_param(params, "has_participants"),
            created_since=int_param(params, "created_since"),
        ),
    )
    return ok(
        {
            "rooms": [message_to_dict(room) for room in page.items],
            "next_cursor": page.end_cursor if page.has_next_page else None,
            "total_count": page.total_count,
        }
    )


@router.delete("/room/{room}", openapi_extra=responses(ROOM, "the room as it was"))
async def delete_room(request: Request, room: str) -> EnvelopeResponse:
    deleted = await room_ops.delete_room(*await caller(request), room)
    return ok(message_to_dict(deleted))
