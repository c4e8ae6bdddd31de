"""REST compat's token route: `POST /room/token` mints a join token (`graphql_api.core.tokens`)."""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core import tokens as token_ops

from .envelope import EnvelopeResponse, ok
from .forms import read_params
from .openapi import NAME, body, responses
from .table import caller, router

__all__ = ["create_token"]


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
    core, principal = await caller(request)
    params = await read_params(request)
    token = await token_ops.create_token(core, principal, room=params.get("room"), identity=params.get("uid"))
    return ok({"access_token": token.token})
