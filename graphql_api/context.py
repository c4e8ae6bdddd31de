"""The per-request GraphQL context: long-lived objects plus this request's caller and loaders.

Strawberry fills in ``request``, ``response`` and ``background_tasks`` on a
`BaseContext`; the getter adds what the resolvers need. The caller is
authenticated lazily, once per request, so a query that touches nothing
protected costs no verification, and a bad credential surfaces as an
UNAUTHENTICATED error on the fields that needed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from livekit.protocol import models
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from . import resolvers
from .auth import Principal
from .errors import GxrtcError
from .i18n import Language
from .resolvers import Core

__all__ = ["Context", "Info"]


@dataclass(eq=False)
class Context(BaseContext):
    core: Core
    authorization: str | None = None
    """The Authorization header, or for subscriptions the one in connection_init's payload."""
    language: Language = "en"
    client: str | None = None
    """The caller's address, for the brake on failed authentications."""
    participants: DataLoader[str, list[models.ParticipantInfo]] = field(init=False)
    """Participants by room name. Per request, so `rooms { participants }`
    costs one concurrent round of ListParticipants rather than one room after
    another, and nothing is cached across requests."""
    _principal: Principal | None = field(default=None, init=False)
    _refusal: GxrtcError | None = field(default=None, init=False)
    """Why the caller was refused: asked again by every field, answered once (one failure for the brake)."""

    def __post_init__(self) -> None:
        super().__init__()
        core = self.core

        async def load(rooms: Sequence[str]) -> list[list[models.ParticipantInfo]]:
            return await resolvers.list_participants_of_rooms(core, rooms)

        self.participants = DataLoader(load_fn=load)

    async def principal(self) -> Principal:
        if self._principal is None:
            if self._refusal is not None:
                raise self._refusal
            try:
                self._principal = await self.core.authenticator.authenticate(self.authorization, self.client)
            except GxrtcError as refusal:
                self._refusal = refusal
                raise
        return self._principal

    async def caller(self) -> tuple[Core, Principal]:
        return self.core, await self.principal()


Info = strawberry.Info[Context, None]
