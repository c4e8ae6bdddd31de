"""REST compat: the paths, parameters and envelope of the GXRTC API document.

Each route reads its parameters, calls one core operation and shapes the
answer; errors propagate to the app's one error handler, which writes the
envelope. `/room` and `/room/` are one resource and neither redirects, since a
redirect loses a form POST body in many clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from graphql_api import resolvers
from graphql_api.proto_json import message_to_dict
from graphql_api.resolvers import Core

from .envelope import EnvelopeResponse, ok
from .forms import int_param, read_params

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", redirect_slashes=False)


def _core(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


@router.post("/room/token")
async def create_token(request: Request) -> EnvelopeResponse:
    params = await read_params(request)
    token = await resolvers.create_token(_core(request), room=params.get("room"), identity=params.get("uid"))
    return ok({"access_token": token.token})


@router.post("/room")
@router.post("/room/", include_in_schema=False)
async def create_room(request: Request) -> EnvelopeResponse:
    params = await read_params(request)
    room = await resolvers.create_room(
        _core(request),
        name=params.get("room"),
        empty_timeout=int_param(params, "empty_timeout"),
        departure_timeout=int_param(params, "departure_timeout"),
        max_participants=int_param(params, "max_participants"),
        metadata=params.get("metadata"),
    )
    return ok(message_to_dict(room))


@router.get("/room")
@router.get("/room/", include_in_schema=False)
async def list_rooms(request: Request) -> EnvelopeResponse:
    rooms = await resolvers.list_rooms(_core(request))
    return ok({"rooms": [message_to_dict(room) for room in rooms]})


@router.delete("/room/{room}")
async def delete_room(request: Request, room: str) -> EnvelopeResponse:
    deleted = await resolvers.delete_room(_core(request), room)
    return ok(message_to_dict(deleted))
