"""REST compat: the paths, parameters and envelope of the GXRTC API document.

Each route authenticates the caller, reads its parameters, calls one core
operation and shapes the answer; errors propagate to the app's one error
handler, which writes the envelope. `/room` and `/room/` are one resource and
neither redirects, since a redirect loses a form POST body in many clients.
"""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import participants as participant_ops
from graphql_api.core import rooms as room_ops
from graphql_api.core import tokens as token_ops
from graphql_api.core.auth import Principal
from graphql_api.core.services import Core
from graphql_api.errors import MissingParameter
from rest_compat.proto_json import message_to_dict

from .envelope import EnvelopeResponse, ok
from .forms import int_param, json_param, read_params
from .openapi import ATTRIBUTES, NAME, PARTICIPANT, PERMISSION, ROOM, body, responses
from .routes import Routes

_COUNT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_MUTE = {
    **body(
        {
            "track_sid": NAME,
            "source": {"type": "string", "enum": ["MICROPHONE", "CAMERA", "SCREEN_SHARE", "SCREEN_SHARE_AUDIO"]},
        },
        [],
    ),
    **responses(None, "muted (or unmuted); nothing to do is success too"),
}

__all__ = ["router"]

router = Routes(prefix="/api/v1")


async def _caller(request: Request) -> tuple[Core, Principal]:
    # Before the parameters are read: a stranger learns nothing about what they should be.
    core: Core = request.app.state.core
    client = request.client.host if request.client else ""
    principal = await core.authenticator.authenticate(request.headers.get("authorization"), client)
    return core, principal


@router.post(
    "/room/token",
    openapi_extra={
        **body({"uid": NAME, "room": NAME}, ["uid", "room"]),
        **responses(
            {"type": "object", "properties": {"access_token": {"type": "string"}}, "required": ["access_token"]},
            "a LiveKit join token for uid in room",
        ),
    },
)
async def create_token(request: Request) -> EnvelopeResponse:
    core, principal = await _caller(request)
    params = await read_params(request)
    token = await token_ops.create_token(core, principal, room=params.get("room"), identity=params.get("uid"))
    return ok({"access_token": token.token})


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
    core, principal = await _caller(request)
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
    rooms = await room_ops.list_rooms(*await _caller(request))
    return ok({"rooms": [message_to_dict(room) for room in rooms]})


@router.delete("/room/{room}", openapi_extra=responses(ROOM, "the room as it was"))
async def delete_room(request: Request, room: str) -> EnvelopeResponse:
    deleted = await room_ops.delete_room(*await _caller(request), room)
    return ok(message_to_dict(deleted))


@router.get(
    "/room/{room}/participants",
    openapi_extra=responses(
        {
            "type": "object",
            "properties": {"participants": {"type": "array", "items": PARTICIPANT}},
            "required": ["participants"],
        },
        "who is in the room",
    ),
)
async def list_participants(request: Request, room: str) -> EnvelopeResponse:
    participants = await participant_ops.list_participants(*await _caller(request), room)
    return ok({"participants": [message_to_dict(participant) for participant in participants]})


@router.get("/room/{room}/participant/{uid}", openapi_extra=responses(PARTICIPANT, "the participant"))
async def get_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    participant = await participant_ops.get_participant(*await _caller(request), room, uid)
    return ok(message_to_dict(participant))


@router.delete("/room/{room}/participant/{uid}", openapi_extra=responses(None, "kicked"))
async def kick_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    await participant_ops.kick_participant(*await _caller(request), room, uid)
    return ok()


async def _mute(request: Request, room: str, uid: str, *, muted: bool) -> EnvelopeResponse:
    core, principal = await _caller(request)
    params = await read_params(request)
    await participant_ops.mute_participant(
        core, principal, room, uid, muted=muted, track_sid=params.get("track_sid"), source=params.get("source")
    )
    return ok()


@router.post("/room/{room}/participant/{uid}/mute", openapi_extra=_MUTE)
async def mute_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    return await _mute(request, room, uid, muted=True)


@router.delete("/room/{room}/participant/{uid}/mute", openapi_extra=_MUTE)
async def unmute_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    return await _mute(request, room, uid, muted=False)


@router.post(
    "/room/{room}/participant/{uid}/info",
    openapi_extra={
        **body(
            {"metadata": {"type": "string"}, "attrs": ATTRIBUTES, "name": NAME, "permission": PERMISSION},
            [],
            any_of=["metadata", "attrs", "name", "permission"],
        ),
        **responses(PARTICIPANT, "the participant as it is now"),
    },
)
async def update_participant_info(request: Request, room: str, uid: str) -> EnvelopeResponse:
    core, principal = await _caller(request)
    params = await read_params(request)
    participant = await participant_ops.update_participant(
        core,
        principal,
        room,
        uid,
        metadata=params.get("metadata"),
        attributes=json_param(params, "attrs", "attributes"),
        name=params.get("name"),
        # The document's own permissions example posts here, and clients copy examples.
        permission=json_param(params, "permission", "permission"),
    )
    return ok(message_to_dict(participant))


@router.post(
    "/room/{room}/participant/{uid}/permissions",
    openapi_extra={
        **body({"permission": PERMISSION}, ["permission"]),
        **responses(PARTICIPANT, "the participant as it is now"),
    },
)
async def update_participant_permissions(request: Request, room: str, uid: str) -> EnvelopeResponse:
    core, principal = await _caller(request)
    params = await read_params(request)
    permission = json_param(params, "permission", "permission")
    if permission is None:
        raise MissingParameter("permission")
    participant = await participant_ops.update_participant(core, principal, room, uid, permission=permission)
    return ok(message_to_dict(participant))
