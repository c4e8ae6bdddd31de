"""The per-request GraphQL context: long-lived objects plus this request's loaders.

Strawberry fills in ``request``, ``response`` and ``background_tasks`` on a
`BaseContext`; the getter only adds what the resolvers need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import strawberry
from livekit.protocol import models
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from . import resolvers
from .resolvers import Core

__all__ = ["Context", "Info"]


@dataclass(eq=False)
class Context(BaseContext):
    core: Core
    participants: DataLoader[str, list[models.ParticipantInfo]] = field(init=False)
    """Participants by room name. Per request, so `rooms { participants }`
    costs one concurrent round of ListParticipants rather than one room after
    another, and nothing is cached across requests."""

    def __post_init__(self) -> None:
        super().__init__()
        core = self.core

        async def load(rooms: Sequence[str]) -> list[list[models.ParticipantInfo]]:
            return await resolvers.list_participants_of_rooms(core, rooms)

        self.participants = DataLoader(load_fn=load)


Info = strawberry.Info[Context, None]
