"""createToken: a join token (`graphql_api.core.tokens`)."""

from __future__ import annotations

import strawberry

from ...core import tokens as token_ops
from ..context import Info
from ..types import JoinToken, TrackSource

__all__ = ["TokenMutations"]


@strawberry.type
class TokenMutations:
    @strawberry.mutation(
        description=(
            "Mint a token that lets `identity` join `room`. Users mint for themselves only; `hidden` is for admins;"
            " `canPublishSources` limits what the client may publish, within what the caller's role allows."
        )
    )
    async def create_token(
        self,
        info: Info,
        room: str,
        identity: str,
        name: str | None = None,
        ttl_seconds: int | None = None,
        can_publish_sources: list[TrackSource] | None = None,  # type: ignore[valid-type]
        hidden: bool = False,
    ) -> JoinToken:
        token = await token_ops.create_token(
            *await info.context.caller(),
            room=room,
            identity=identity,
            name=name,
            ttl_seconds=ttl_seconds,
            can_publish_sources=[source.name for source in can_publish_sources]  # type: ignore[attr-defined]
            if can_publish_sources
            else None,
            hidden=hidden,
        )
        return JoinToken.from_data(token)
