"""The per-request GraphQL context: long-lived objects plus this request's caller and loaders.

Strawberry fills in ``request``, ``response`` and ``background_tasks`` on a
`BaseContext`; the getter adds what the resolvers need. The caller is
authenticated lazily, once per request, so a query that touches nothing
protected costs no verification, and a bad credential surfaces as an
UNAUTHENTICATED error on the fields that needed it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from livekit.protocol import models
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from ..core import participants as participant_ops
from ..core.auth import Principal
from ..core.services import Core
from ..errors import GxrtcError, Unauthenticated
from ..i18n import Language
from ..server.observe import note_principal

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

        async def load(rooms: Sequence[str]) -> list[list[models.ParticipantInfo]]:
            return await participant_ops.list_participants_of_rooms(*await self.caller(), rooms)

        self.participants = DataLoader(load_fn=load)

    async def principal(self) -> Principal:
        principal = self._principal
        if principal is None:
            if self._refusal is not None:
                raise self._refusal
            try:
                principal = self._principal = await self.core.authenticator.authenticate(
                    self.authorization, self.client
                )
                if self.request is not None:
                    note_principal(self.request.scope, principal.uid)
            except GxrtcError as refusal:
                self._refusal = refusal
                raise
        elif principal.expires_at is not None and time.time() >= principal.expires_at:
            # A socket's context outlives its requests: its credential may have expired since.
            raise Unauthenticated("the token has expired")
        return principal

    async def caller(self) -> tuple[Core, Principal]:
        return self.core, await self.principal()


Info = strawberry.Info[Context, None]
