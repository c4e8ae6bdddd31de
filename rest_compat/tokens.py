"""REST compat's token route: `POST /room/token` mints a join token (`graphql_api.core.tokens`); optional
`metadata` and `attributes` (a JSON object of strings) are the participant's initial ones."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from graphql_api.core import tokens as token_ops
from graphql_api.errors import InvalidParameter

from .envelope import EnvelopeResponse, ok
from .forms import json_param, read_params
from .openapi import ATTRIBUTES, NAME, body, responses
from .table import caller, router

__all__ = ["create_token"]


@router.post(
    "/room/token",
    openapi_extra={
        **body(
            {"uid": NAME, "room": NAME, "metadata": {"type": "string"}, "attributes": ATTRIBUTES},
            ["uid", "room"],
        ),
        **responses(
            {"type": "object", "properties": {"access_token": {"type": "string"}}, "required": ["access_token"]},
            "a LiveKit join token for uid in room",
        ),
    },
)
async def create_token(request: Request) -> EnvelopeResponse:
    core, principal = await caller(request)
    params = await read_params(request)
    if "metadata" not in params and "attributes" not in params:  # the document's form, the hot path
        token = await token_ops.create_token(core, principal, room=params.get("room"), identity=params.get("uid"))
        return ok({"access_token": token.token})
    try:
        token = await token_ops.create_token(
            core,
            principal,
            room=params.get("room"),
            identity=params.get("uid"),
            metadata=params.get("metadata"),
            attributes=json_param(params, "attributes", "attributes"),
        )
    except InvalidParameter as bad:
        if bad.param != "attributes":
            raise
        raise _Named(bad.param, bad.detail) from None
    return ok({"access_token": token.token})


class _Named(InvalidParameter):
    """A refusal of `attributes` named as this route names it (elsewhere REST says `attrs`)."""

    def message_for(self, aliases: Mapping[str, str]) -> str:
        return super().message_for({})
