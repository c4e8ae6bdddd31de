"""A join token, as GraphQL shows the core's (core/minter.py)."""

from __future__ import annotations

import datetime

import strawberry

from ...core.minter import JoinToken as JoinTokenData

__all__ = ["JoinToken"]


@strawberry.type(description="A LiveKit access token that lets one identity join one room.")
class JoinToken:
    token: str
    identity: str
    room: str
    expires_at: datetime.datetime
    url: str = strawberry.field(description="The LiveKit URL a client connects to with this token.")

    @classmethod
    def from_data(cls, data: JoinTokenData) -> JoinToken:
        return cls(
            token=data.token,
            identity=data.identity,
            room=data.room,
            expires_at=datetime.datetime.fromtimestamp(data.expires_at, tz=datetime.UTC),
            url=data.url,
        )
