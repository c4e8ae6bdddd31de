"""`presence(identities)`: the rooms each identity is in now, and since when (`graphql_api.core.presence`)."""

from __future__ import annotations

import datetime

import strawberry

from ..core import presence as presence_ops
from .context import Info

__all__ = ["PresenceQuery"]


def _time(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


@strawberry.type(description="An identity's being in one room.")
class PresenceStay:
    room: str
    joined_at: datetime.datetime
    participant_sid: str = strawberry.field(description="LiveKit's sid of this stay (a rejoin is a new one).")


@strawberry.type(description="Where an identity is now, among the rooms the caller may read.")
class Presence:
    identity: str
    rooms: list[PresenceStay] = strawberry.field(description="By room name; empty when it is in none.")


@strawberry.type
class PresenceQuery:
    @strawberry.field(
        description=(
            "For each identity (at most"
            f" {presence_ops.MAX_PRESENCE_IDENTITIES} distinct), the rooms it is in now and since when, across the"
            " whole LiveKit; a moderator sees only its rooms. From the presence index: at most"
            " GXRTC_PRESENCE_SWEEP_SECONDS old, sooner with LiveKit's webhooks."
        )
    )
    async def presence(self, info: Info, identities: list[str]) -> list[Presence]:
        report = await presence_ops.presence(*await info.context.caller(), identities)
        return [
            Presence(
                identity=found.identity,
                rooms=[
                    PresenceStay(room=stay.room, joined_at=_time(stay.joined_at), participant_sid=stay.sid)
                    for stay in found.stays
                ],
            )
            for found in report.presence
        ]
