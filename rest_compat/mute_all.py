"""REST compat's mute-all routes: `POST /room/{room}/mute_all` (form `except`, `sources`: each repeated or one
comma-separated value), `DELETE /room/{room}/mute_all` and `GET /room/{room}/mute_all`
(`graphql_api.core.mute_all`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from graphql_api.core import mute_all as mute_all_ops
from graphql_api.core.admission import MuteAll
from graphql_api.core.vocabulary import TRACK_SOURCES
from graphql_api.i18n import localize

from .envelope import PARAM_ALIASES, EnvelopeResponse, ok
from .errors import language as caller_language
from .forms import bool_param, list_param, read_params
from .openapi import NAME, body, responses
from .table import caller, router

__all__ = ["get_mute_all", "mute_all", "unmute_all"]

_SOURCE = {"type": "string", "enum": [source.upper() for source in TRACK_SOURCES]}
_STATE = {
    "type": "object",
    "properties": {
        "room": {"type": "string"},
        "muted_by": {"type": "string"},
        "muted_at": {"type": "number", "description": "Unix seconds"},
        "sources": {"type": "array", "items": _SOURCE},
        "except": {"type": "array", "items": {"type": "string"}},
        "strict": {"type": "boolean"},
    },
    "required": ["room", "muted_by", "muted_at", "sources", "except", "strict"],
}
_RESULT = {
    "type": "object",
    "properties": {
        "identity": {"type": "string"},
        "ok": {"type": "boolean"},
        "muted_tracks": {"type": "integer"},
        "error": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "code": {"type": "integer"},
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
                {"type": "null"},
            ]
        },
    },
    "required": ["identity", "ok", "muted_tracks", "error"],
}


def state_to_dict(state: MuteAll) -> dict[str, Any]:
    return {
        "room": state.room,
        "muted_by": state.muted_by,
        "muted_at": state.muted_at,
        "sources": [source.upper() for source in state.sources],
        "except": sorted(state.excepted),
        "strict": state.strict,
    }


@router.post(
    "/room/{room}/mute_all",
    openapi_extra={
        **body(
            {
                "except": {"type": "array", "items": NAME, "description": "repeated, or one comma-separated value"},
                "sources": {"type": "array", "items": _SOURCE, "minItems": 1, "description": "default MICROPHONE"},
                "strict": {
                    "type": "boolean",
                    "default": False,
                    "description": "tokens minted meanwhile cannot publish",
                },
            },
            [],
        ),
        **responses(
            {
                "type": "object",
                "properties": {"mute_all": _STATE, "results": {"type": "array", "items": _RESULT}},
                "required": ["mute_all", "results"],
            },
            "muted all, and kept so: a result per participant not excepted",
        ),
    },
)
async def mute_all(request: Request, room: str) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    done = await mute_all_ops.mute_all(
        core,
        principal,
        room,
        excepted=list_param(params, "except"),
        sources=list_param(params, "sources"),
        strict=bool_param(params, "strict", default=False),
    )
    language = caller_language(request.headers, core.settings)
    return ok(
        {
            "mute_all": state_to_dict(done.state),
            "results": [
                {
                    "identity": outcome.identity,
                    "ok": outcome.ok,
                    "muted_tracks": outcome.muted_tracks,
                    "error": {
                        "code": outcome.error.status,
                        "error": outcome.error.error,
                        "message": localize(outcome.error, language, PARAM_ALIASES),
                    }
                    if outcome.error is not None
                    else None,
                }
                for outcome in done.outcomes
            ],
        }
    )


@router.delete(
    "/room/{room}/mute_all",
    openapi_extra=responses(
        {"type": "object", "properties": {"unmuted_all": {"type": "boolean"}}, "required": ["unmuted_all"]},
        "lifted (tracks stay as they are): false if the room was not muted all",
    ),
)
async def unmute_all(request: Request, room: str) -> EnvelopeResponse:
    return ok({"unmuted_all": await mute_all_ops.unmute_all(*await caller(request), room)})


@router.get(
    "/room/{room}/mute_all",
    openapi_extra=responses(
        {
            "type": "object",
            "properties": {"mute_all": {"oneOf": [_STATE, {"type": "null"}]}},
            "required": ["mute_all"],
        },
        "the room's mute-all; null when it is not muted all",
    ),
)
async def get_mute_all(request: Request, room: str) -> EnvelopeResponse:
    state = await mute_all_ops.room_moderation(*await caller(request), room)
    return ok({"mute_all": state_to_dict(state.mute_all) if state.mute_all is not None else None})
