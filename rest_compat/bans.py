"""REST compat's ban routes (`graphql_api.core.bans`).

`POST`/`DELETE /room/{room}/participant/{uid}/ban` (form `reason`, `duration` in
seconds, 0 or none: until unbanned) and `GET /room/{room}/bans` for one room;
a ban on every room (admins) has paths of its own, `POST`/`DELETE /ban/{uid}`
and `GET /bans`, since any string, `*` included, could be a room's name.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from graphql_api.core import bans as ban_ops
from graphql_api.core.admission import Ban
from graphql_api.core.store import EVERY_ROOM

from .envelope import EnvelopeResponse, ok
from .forms import int_param, read_params
from .openapi import body, responses
from .table import caller, router

__all__ = ["ban_from_every_room", "ban_participant", "list_bans", "list_every_room_bans", "unban_participant"]

_BAN = {
    "type": "object",
    "properties": {
        "room": {"type": ["string", "null"], "description": "null: every room"},
        "uid": {"type": "string"},
        "reason": {"type": "string"},
        "banned_by": {"type": "string"},
        "banned_at": {"type": "number", "description": "Unix seconds"},
        "expires_at": {"type": ["number", "null"], "description": "Unix seconds; null: until unbanned"},
    },
    "required": ["room", "uid", "reason", "banned_by", "banned_at", "expires_at"],
}
_BAN_FORM = {
    **body(
        {
            "reason": {"type": "string", "maxLength": ban_ops.MAX_REASON_BYTES},
            "duration": {"type": "integer", "minimum": 0, "maximum": ban_ops.MAX_BAN_SECONDS},
        },
        [],
    ),
    **responses(_BAN, "banned (and removed, if it was there)"),
}
_BANS = responses(
    {"type": "object", "properties": {"bans": {"type": "array", "items": _BAN}}, "required": ["bans"]},
    "the bans in force",
)
_UNBANNED = responses(
    {"type": "object", "properties": {"unbanned": {"type": "boolean"}}, "required": ["unbanned"]},
    "unbanned: false if there was no such ban",
)


def ban_to_dict(ban: Ban) -> dict[str, Any]:
    return {
        "room": None if ban.room == EVERY_ROOM else ban.room,
        "uid": ban.identity,
        "reason": ban.reason,
        "banned_by": ban.banned_by,
        "banned_at": ban.banned_at,
        "expires_at": ban.expires_at,
    }


async def _ban(request: Request, room: str | None, uid: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    ban = await ban_ops.ban_participant(
        core, principal, room, uid, reason=params.get("reason"), duration_seconds=int_param(params, "duration")
    )
    return ok(ban_to_dict(ban))


async def _unban(request: Request, room: str | None, uid: str) -> EnvelopeResponse:
    return ok({"unbanned": await ban_ops.unban_participant(*await caller(request), room, uid)})


async def _bans(request: Request, room: str | None) -> EnvelopeResponse:
    return ok({"bans": [ban_to_dict(ban) for ban in await ban_ops.list_bans(*await caller(request), room)]})


@router.post("/room/{room}/participant/{uid}/ban", openapi_extra=_BAN_FORM)
async def ban_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    return await _ban(request, room, uid)


@router.delete("/room/{room}/participant/{uid}/ban", openapi_extra=_UNBANNED)
async def unban_participant(request: Request, room: str, uid: str) -> EnvelopeResponse:
    return await _unban(request, room, uid)


@router.get("/room/{room}/bans", openapi_extra=_BANS)
async def list_bans(request: Request, room: str) -> EnvelopeResponse:
    return await _bans(request, room)


@router.post("/ban/{uid}", openapi_extra=_BAN_FORM)
async def ban_from_every_room(request: Request, uid: str) -> EnvelopeResponse:
    return await _ban(request, None, uid)


@router.delete("/ban/{uid}", openapi_extra=_UNBANNED)
async def unban_from_every_room(request: Request, uid: str) -> EnvelopeResponse:
    return await _unban(request, None, uid)


@router.get("/bans", openapi_extra=_BANS)
async def list_every_room_bans(request: Request) -> EnvelopeResponse:
    return await _bans(request, None)
