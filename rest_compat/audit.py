"""REST compat's audit trail: `GET /audit` and `GET /room/{room}/audit` (`graphql_api.core.audit_log`).

Query parameters `actor`, `action`, `since` and `until` (Unix seconds, inclusive),
`limit` (at most 500, default 50) and `cursor` (a `next_cursor` of an earlier
page); `data: {"events": [...], "next_cursor": ...}`, newest first.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from graphql_api.core.audit_log import CURSOR_PATTERN, AuditEvent, AuditPage, audit_log
from graphql_api.core.paging import MAX_PAGE_SIZE
from graphql_api.errors import InvalidParameter

from .envelope import EnvelopeResponse, ok
from .forms import int_param
from .openapi import NAME, responses
from .table import caller, router

__all__ = ["audit", "room_audit"]

_EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "number", "description": "Unix seconds"},
        "actor": {"type": "string"},
        "actor_role": {"type": "string", "enum": ["admin", "moderator", "user"]},
        "credential": {"type": "string", "enum": ["jwt", "api_key", "anonymous"]},
        "face": {"type": "string", "enum": ["rest", "graphql", "internal"]},
        "action": {"type": "string"},
        "room": {"type": ["string", "null"]},
        "identity": {"type": ["string", "null"]},
        "detail": {"type": "object", "description": "the parameters that matter; never a token or a secret"},
        "result": {"type": "string", "description": '"ok" or the error\'s meta.error'},
        "request_id": {"type": ["string", "null"]},
    },
}
_PAGE = {
    "type": "object",
    "properties": {
        "events": {"type": "array", "items": _EVENT},
        "next_cursor": {"type": ["string", "null"], "description": "the next (older) page's cursor; null at the end"},
    },
    "required": ["events", "next_cursor"],
}
_QUERY = [
    {"name": "actor", "in": "query", "schema": NAME, "description": "only this caller's acts"},
    {"name": "action", "in": "query", "schema": NAME, "description": "only this action"},
    {"name": "since", "in": "query", "schema": {"type": "number", "minimum": 0}, "description": "Unix seconds"},
    {"name": "until", "in": "query", "schema": {"type": "number", "minimum": 0}, "description": "Unix seconds"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}},
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string", "pattern": CURSOR_PATTERN},
        "description": "an earlier page's next_cursor",
    },
]
_ROOM = {"name": "room", "in": "path", "required": True, "schema": NAME}


def _seconds(params: dict[str, str], key: str) -> float | None:
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InvalidParameter(key, "must be Unix seconds")
    return value


def _event(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "credential": event.credential,
        "face": event.face,
        "action": event.action,
        "room": event.room,
        "identity": event.identity,
        "detail": event.detail,
        "result": event.result,
        "request_id": event.request_id,
    }


async def _page(request: Request, room: str | None) -> AuditPage:
    core, principal = await caller(request)
    # A blank parameter is an absent one, as in every form here (`?action=&limit=` filters nothing).
    params = {key: value for key, value in request.query_params.items() if value.strip() != ""}
    return await audit_log(
        core,
        principal,
        room=room,
        actor=params.get("actor"),
        action=params.get("action"),
        since=_seconds(params, "since"),
        until=_seconds(params, "until"),
        first=int_param(params, "limit"),
        after=params.get("cursor"),
    )


def _answer(page: AuditPage) -> EnvelopeResponse:
    return ok({"events": [_event(event) for event in page.events], "next_cursor": page.next_cursor})


@router.get(
    "/audit",
    openapi_extra={"parameters": _QUERY, **responses(_PAGE, "the rows the caller may read, newest first")},
)
async def audit(request: Request) -> EnvelopeResponse:
    return _answer(await _page(request, None))


@router.get(
    "/room/{room}/audit",
    openapi_extra={"parameters": [_ROOM, *_QUERY], **responses(_PAGE, "the room's rows, newest first")},
)
async def room_audit(request: Request, room: str) -> EnvelopeResponse:
    return _answer(await _page(request, room))
