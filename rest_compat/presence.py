"""REST compat's presence: `GET /presence?identities=a,b` (repeated or comma-separated), the rooms each is in now.

`data`: `{"presence": [{"identity", "rooms": [{"room", "joined_at", "participant_sid"}]}], "swept_at"}`, times in
Unix seconds; authorized like every read (`graphql_api.core.presence`).
"""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import presence as presence_ops

from .envelope import EnvelopeResponse, ok
from .identities import IDENTITIES, split_identities
from .openapi import NAME, responses
from .table import caller, router

__all__ = ["presence"]

_STAY = {
    "type": "object",
    "properties": {
        "room": {"type": "string"},
        "joined_at": {"type": "number", "description": "Unix seconds"},
        "participant_sid": {"type": "string"},
    },
    "required": ["room", "joined_at", "participant_sid"],
}
_PRESENCE = {
    "type": "object",
    "properties": {
        "presence": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"identity": {"type": "string"}, "rooms": {"type": "array", "items": _STAY}},
                "required": ["identity", "rooms"],
            },
        },
        "swept_at": {"type": "number", "description": "when LiveKit was last listed (Unix seconds)"},
    },
    "required": ["presence", "swept_at"],
}


@router.get(
    "/presence",
    openapi_extra={
        "parameters": [
            {
                "name": IDENTITIES,
                "in": "query",
                "required": True,
                "style": "form",
                "explode": False,
                # What a URL always carries; GraphQL's presence takes up to MAX_PRESENCE_IDENTITIES.
                "schema": {
                    "type": "array",
                    "items": {**NAME, "maxLength": 32},
                    "minItems": 1,
                    "maxItems": 20,
                    "description": f"at most {presence_ops.MAX_PRESENCE_IDENTITIES} distinct, as a URL allows",
                },
            }
        ],
        **responses(_PRESENCE, "the rooms each identity is in now, among those the caller may read"),
    },
)
async def presence(request: Request) -> EnvelopeResponse:
    core, principal = await caller(request)
    asked = request.query_params.getlist(IDENTITIES) or request.query_params.getlist(IDENTITIES + "[]")
    report = await presence_ops.presence(core, principal, split_identities(asked) if asked else None)
    return ok(
        {
            "presence": [
                {
                    "identity": found.identity,
                    "rooms": [
                        {"room": stay.room, "joined_at": stay.joined_at, "participant_sid": stay.sid}
                        for stay in found.stays
                    ],
                }
                for found in report.presence
            ],
            "swept_at": report.swept_at,
        }
    )
