"""REST compat's participant routes: list, get, kick, mute and unmute, info and permissions
(`graphql_api.core.participants`)."""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import participants as participant_ops
from graphql_api.core.vocabulary import TRACK_SOURCES
from graphql_api.errors import MissingParameter

from .envelope import EnvelopeResponse, ok
from .forms import json_param, read_params
from .openapi import ATTRIBUTES, NAME, PARTICIPANT, PERMISSION, body, responses
from .proto_json import message_to_dict
from .table import caller, router

__all__ = [
    "get_participant",
    "kick_participant",
    "list_participants",
    "mute_participant",
    "unmute_participant",
    "update_participant_info",
    "update_participant_permissions",
]

_MUTE = {
    **body(
        {
            "track_sid": NAME,
            "source": {"type": "string", "enum": [source.upper() for source in TRACK_SOURCES]},
        },
        [],
    ),
    **responses(None, "muted (or unmuted); nothing to do is success too"),
}


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
    participants = await participant_ops.list_participants(*await caller(request), room)
    return ok({"participants": [message_to_dict(participant) for participant in participants]})


@router.get("/room/{room}/participant/{uid}", openapi_extra=responses(PARTICIPANT, "the participant"))
async def get_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    participant = await participant_ops.get_participant(*await caller(request), room, uid)
    return ok(message_to_dict(participant))


@router.delete("/room/{room}/participant/{uid}", openapi_extra=responses(None, "kicked"))
async def kick_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    await participant_ops.kick_participant(*await caller(request), room, uid)
    return ok()


async def _mute(request: Request, room: str, uid: str, *, muted: bool) -> EnvelopeResponse:
    core, principal = await caller(request)
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
    core, principal = await caller(request)
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
    core, principal = await caller(request)
    params = await read_params(request)
    permission = json_param(params, "permission", "permission")
    if permission is None:
        raise MissingParameter("permission")
    participant = await participant_ops.update_participant(core, principal, room, uid, permission=permission)
    return ok(message_to_dict(participant))
