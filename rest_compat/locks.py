"""REST compat's lock routes: `POST`/`DELETE /room/{room}/lock` (form `remove_late_joiners`, default true)
and `GET /room/{room}/lock` (`graphql_api.core.locks`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from graphql_api.core import locks as lock_ops
from graphql_api.core.admission import Lock

from .envelope import EnvelopeResponse, ok
from .forms import bool_param, read_params
from .openapi import body, responses
from .table import caller, router

__all__ = ["get_lock", "lock_room", "unlock_room"]

_LOCK = {
    "type": "object",
    "properties": {
        "room": {"type": "string"},
        "locked_by": {"type": "string"},
        "locked_at": {"type": "number", "description": "Unix seconds"},
        "remove_late_joiners": {"type": "boolean"},
    },
    "required": ["room", "locked_by", "locked_at", "remove_late_joiners"],
}


def lock_to_dict(lock: Lock) -> dict[str, Any]:
    return {
        "room": lock.room,
        "locked_by": lock.locked_by,
        "locked_at": lock.locked_at,
        "remove_late_joiners": lock.remove_late_joiners,
    }


@router.post(
    "/room/{room}/lock",
    openapi_extra={
        **body({"remove_late_joiners": {"type": "boolean", "default": True}}, []),
        **responses(_LOCK, "locked: only the room's moderators and admins get tokens for it"),
    },
)
async def lock_room(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    remove = bool_param(params, "remove_late_joiners", default=True)
    return ok(lock_to_dict(await lock_ops.lock_room(core, principal, room, remove_late_joiners=remove)))


@router.delete(
    "/room/{room}/lock",
    openapi_extra=responses(
        {"type": "object", "properties": {"unlocked": {"type": "boolean"}}, "required": ["unlocked"]},
        "unlocked: false if it was not locked",
    ),
)
async def unlock_room(request: Request, room: str) -> EnvelopeResponse:
    return ok({"unlocked": await lock_ops.unlock_room(*await caller(request), room)})


@router.get(
    "/room/{room}/lock",
    openapi_extra=responses(
        {"type": "object", "properties": {"lock": {"oneOf": [_LOCK, {"type": "null"}]}}, "required": ["lock"]},
        "the room's lock; null when it is not locked",
    ),
)
async def get_lock(request: Request, room: str) -> EnvelopeResponse:
    lock = await lock_ops.room_lock(*await caller(request), room)
    return ok({"lock": lock_to_dict(lock) if lock is not None else None})
