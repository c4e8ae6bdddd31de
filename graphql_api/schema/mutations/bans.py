"""banParticipant and unbanParticipant (`graphql_api.core.bans`)."""

from __future__ import annotations

import strawberry

from ...core import bans as ban_ops
from ..context import Info
from ..moderation import Ban

__all__ = ["BanMutations"]


@strawberry.type
class BanMutations:
    @strawberry.mutation(
        description=(
            "Ban `identity` from `room` (moderators of the room, admins), or with `room: null` from every room"
            " (admins): it is removed now, gets no token (BANNED) and is removed whenever it joins anyway."
            " `durationSeconds` null or 0: until unbanned."
        )
    )
    async def ban_participant(
        self,
        info: Info,
        room: str | None,
        identity: str,
        reason: str | None = None,
        duration_seconds: int | None = None,
    ) -> Ban:
        ban = await ban_ops.ban_participant(
            *await info.context.caller(), room, identity, reason=reason, duration_seconds=duration_seconds
        )
        return Ban.from_data(ban)

    @strawberry.mutation(description="Lift a ban (`room: null`: the ban on every room). True if there was one.")
    async def unban_participant(self, info: Info, room: str | None, identity: str) -> bool:
        return await ban_ops.unban_participant(*await info.context.caller(), room, identity)
