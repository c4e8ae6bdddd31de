"""REST compat's participant routes: list, get, kick, mute and unmute, info and permissions
(`graphql_api.core.participants`)."""

from __future__ import annotations

from livekit.protocol import models
from starlette.requests import Request

from graphql_api.core import participants as participant_ops
from graphql_api.core.vocabulary import TRACK_SOURCES
from graphql_api.errors import InvalidParameter, MissingParameter

from .envelope import EnvelopeResponse, ok
from .forms import bool_param, int_param, json_param, read_params
from .openapi import (
    ATTRIBUTES,
    NAME,
    PAGE_PARAMETERS,
    PARTICIPANT,
    PERMISSION,
    body,
    comma_list,
    page_parameters,
    paged,
    query_parameters,
    responses,
)
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


_PARTICIPANT_FILTERS = {
    "state": comma_list(list(models.ParticipantInfo.State.keys()), "any of these states"),
    "kind": comma_list(list(models.ParticipantInfo.Kind.keys()), "any of these kinds"),
    "attribute": {"type": "string", "pattern": "^[^=]+=", "description": "key=value: the attribute key has that value"},
    "publishing": {"type": "boolean"},
}


@router.get(
    "/room/{room}/participants",
    openapi_extra={
        **query_parameters({**page_parameters("participant"), **_PARTICIPANT_FILTERS}),
        **responses(
            paged("participants", PARTICIPANT), "who is in the room; a page of them with limit, cursor or a filter"
        ),
    },
)
async def list_participants(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = dict(request.query_params)
    if not params.keys() & {*PAGE_PARAMETERS, *_PARTICIPANT_FILTERS}:
        participants = await participant_ops.list_participants(core, principal, room)
        return ok({"participants": [message_to_dict(participant) for participant in participants]})
    page = await participant_ops.page_participants(
        core,
        principal,
        room,
        first=int_param(params, "limit"),
        after=params.get("cursor"),
        filter=participant_ops.ParticipantFilter(
            states=_names(params.get("state")),
            kinds=_names(params.get("kind")),
            attribute=_attribute(params.get("attribute")),
            publishing=bool_param(params, "publishing"),
        ),
    )
    return ok(
        {
            "participants": [message_to_dict(participant) for participant in page.items],
            "next_cursor": page.end_cursor if page.has_next_page else None,
            "total_count": page.total_count,
        }
    )


def _names(raw: str | None) -> tuple[str, ...]:
    return tuple(name.strip().upper() for name in (raw or "").split(",") if name.strip())


def _attribute(raw: str | None) -> tuple[str, str] | None:
    if raw is None or raw == "":
        return None
    key, separator, value = raw.partition("=")
    if not separator or not key:
        raise InvalidParameter("attribute", "must be key=value")
    return key, value


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
