"""The GraphQL subscription: a room's events (`graphql_api.core.room_events`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from ..core import room_events as event_ops
from .context import Info
from .types import RoomEvent

__all__ = ["Subscription"]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "A room's events as they happen (every room with `room: null`, for admins), starting with a SNAPSHOT."
            ' Authenticate in connection_init with {"Authorization": "Bearer ..."}.'
        )
    )
    async def room_events(self, info: Info, room: str | None = None) -> AsyncGenerator[RoomEvent, None]:
        async for event in event_ops.room_events(*await info.context.caller(), room):
            yield RoomEvent.from_event(event)
