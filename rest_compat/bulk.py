"""REST compat's bulk acts (`graphql_api.core.bulk`): one room, many identities, a result for each.

`POST /room/{room}/participants/kick`, `POST` / `DELETE .../participants/mute`
(optional `sources`, comma-separated; default the microphone),
`POST .../participants/permissions` (`permission`, a partial JSON object) and
`POST .../participants/ban` (`reason`, `duration`), each with `identities`
(repeated, comma-separated or a JSON array; see `identities`). The answer is
200 with `{"results": [{"identity", "ok", "error"}]}` whenever the call itself
was allowed, even if every item failed: an item's `error` is what the single
act's `meta` would have been (`code` its status, `message`, `error` its reason).
Refusing the whole call (401, 403 for another room, 400 for the list, 404 for
no such room) is the usual envelope.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from graphql_api.core import bans as ban_ops
from graphql_api.core import bulk as bulk_ops
from graphql_api.core.bulk import ItemResult
from graphql_api.core.vocabulary import TRACK_SOURCES
from graphql_api.errors import MissingParameter
from graphql_api.i18n import Language, localize

from .envelope import PARAM_ALIASES, EnvelopeResponse, ok
from .errors import language
from .forms import int_param, json_param
from .identities import IDENTITIES, read_bulk_params
from .openapi import NAME, PERMISSION, body, responses
from .table import caller, router

__all__ = ["ban_participants", "kick_participants", "mute_participants", "unmute_participants"]

# What is always accepted: up to MAX_BULK_IDENTITIES are, as long as the body stays under GXRTC_MAX_BODY_BYTES,
# which JSON Schema cannot state; 100 identities of 32 characters fit in any encoding.
_IDENTITY_LIST = {
    "type": "array",
    "items": {**NAME, "maxLength": 32},
    "minItems": 1,
    "maxItems": 100,
    "description": (
        f"at most {bulk_ops.MAX_BULK_IDENTITIES} distinct, within the body cap; in a form, repeated or comma-separated"
    ),
}
_RESULTS = responses(
    {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "identity": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "error": {
                            "type": ["object", "null"],
                            "properties": {
                                "code": {"type": "integer"},
                                "message": {"type": "string"},
                                "error": {"type": "string"},
                            },
                        },
                    },
                    "required": ["identity", "ok", "error"],
                },
            }
        },
        "required": ["results"],
    },
    "a result per identity, in the order asked (200 even when items failed)",
)


def _form(extra: dict[str, dict[str, Any]], required: list[str] | None = None) -> dict[str, Any]:
    return {**body({IDENTITIES: _IDENTITY_LIST, **extra}, [IDENTITIES, *(required or [])]), **_RESULTS}


def result_to_dict(result: ItemResult, lang: Language) -> dict[str, Any]:
    error = result.error
    return {
        "identity": result.identity,
        "ok": error is None,
        "error": None
        if error is None
        else {"code": error.status, "message": localize(error, lang, PARAM_ALIASES), "error": error.error},
    }


def _answer(request: Request, settings: Any, results: list[ItemResult]) -> EnvelopeResponse:
    lang = language(request.headers, settings)
    return ok({"results": [result_to_dict(result, lang) for result in results]})


@router.post("/room/{room}/participants/kick", openapi_extra=_form({}))
async def kick_participants(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    _, lists = await read_bulk_params(request)
    results = await bulk_ops.kick_participants(core, principal, room, lists.get(IDENTITIES))
    return _answer(request, core.settings, results)


_SOURCES = {
    "sources": {
        "type": "array",
        "items": {"type": "string", "enum": [source.upper() for source in TRACK_SOURCES]},
        "description": "whose tracks; default the microphone",
    }
}


async def _mute(request: Request, room: str, *, muted: bool) -> EnvelopeResponse:
    core, principal = await caller(request)
    _, lists = await read_bulk_params(request)
    results = await bulk_ops.mute_participants(
        core, principal, room, lists.get(IDENTITIES), sources=lists.get("sources"), muted=muted
    )
    return _answer(request, core.settings, results)


@router.post("/room/{room}/participants/mute", openapi_extra=_form(_SOURCES))
async def mute_participants(request: Request, room: str) -> EnvelopeResponse:
    return await _mute(request, room, muted=True)


@router.delete("/room/{room}/participants/mute", openapi_extra=_form(_SOURCES))
async def unmute_participants(request: Request, room: str) -> EnvelopeResponse:
    return await _mute(request, room, muted=False)


@router.post("/room/{room}/participants/permissions", openapi_extra=_form({"permission": PERMISSION}, ["permission"]))
async def update_participants_permissions(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params, lists = await read_bulk_params(request)
    permission = json_param(params, "permission", "permission")
    if permission is None:
        raise MissingParameter("permission")
    results = await bulk_ops.update_participants_permissions(core, principal, room, lists.get(IDENTITIES), permission)
    return _answer(request, core.settings, results)


@router.post(
    "/room/{room}/participants/ban",
    openapi_extra=_form(
        {
            "reason": {"type": "string", "maxLength": ban_ops.MAX_REASON_BYTES},
            "duration": {"type": "integer", "minimum": 0, "maximum": ban_ops.MAX_BAN_SECONDS},
        }
    ),
)
async def ban_participants(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params, lists = await read_bulk_params(request)
    results = await bulk_ops.ban_participants(
        core,
        principal,
        room,
        lists.get(IDENTITIES),
        reason=params.get("reason"),
        duration_seconds=int_param(params, "duration"),
    )
    return _answer(request, core.settings, results)
