"""The GraphQL queries: rooms and participants, read through `graphql_api.core`; bans and locks (`moderation`)."""

from __future__ import annotations

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from ..core import participants as participant_ops
from ..core import rooms as room_ops
from .audit import AuditQuery
from .context import Info
from .moderation import ModerationQuery
from .paging import Connection, ParticipantFilter, RoomFilter
from .presence import PresenceQuery
from .types import Participant, Room
from .viewer import ViewerQuery

__all__ = ["Query"]


@strawberry.type
class Query(ViewerQuery, AuditQuery, ModerationQuery, PresenceQuery):
    @strawberry.field(description="Rooms on the LiveKit server; with `names`, only those rooms.")
    async def rooms(self, info: Info, names: list[str] | None = None) -> list[Room]:
        core, principal = await info.context.caller()
        if not _selects(info.selected_fields[0].selections, "participants"):
            return [Room.from_proto(room) for room in await room_ops.list_rooms(core, principal, names)]
        # An overview: the listing and the whole fan-out in one step, both from the overview cache,
        # rather than a resolver and a loader future per room.
        rooms = await room_ops.list_rooms(core, principal, names, overview=True)
        everyone = await participant_ops.list_participants_of_rooms(core, principal, [room.name for room in rooms])
        return [Room.from_proto(room).with_participants(p) for room, p in zip(rooms, everyone, strict=True)]

    @strawberry.field(
        description="A page of the rooms the caller may see, by name, narrowed by `filter`; `rooms` lists them all."
    )
    async def rooms_connection(
        self, info: Info, first: int | None = None, after: str | None = None, filter: RoomFilter | None = None
    ) -> Connection[Room]:
        core, principal = await info.context.caller()
        page = await room_ops.page_rooms(
            core, principal, first=first, after=after, filter=filter.to_data() if filter else None
        )
        return Connection.of(page, Room.from_proto)

    @strawberry.field(description="One room by name; NOT_FOUND when there is no such room.")
    async def room(self, info: Info, name: str) -> Room | None:
        return Room.from_proto(await room_ops.get_room(*await info.context.caller(), name))

    @strawberry.field(description="Who is in a room; NOT_FOUND when there is no such room.")
    async def participants(self, info: Info, room: str) -> list[Participant]:
        participants = await participant_ops.list_participants(*await info.context.caller(), room)
        return [Participant.from_proto(participant) for participant in participants]

    @strawberry.field(
        description="A page of a room's participants, by identity, narrowed by `filter`; NOT_FOUND for no such room."
    )
    async def participants_connection(
        self,
        info: Info,
        room: str,
        first: int | None = None,
        after: str | None = None,
        filter: ParticipantFilter | None = None,
    ) -> Connection[Participant]:
        core, principal = await info.context.caller()
        page = await participant_ops.page_participants(
            core, principal, room, first=first, after=after, filter=filter.to_data() if filter else None
        )
        return Connection.of(page, Participant.from_proto)

    @strawberry.field(description="One participant; NOT_FOUND when the room or the participant is missing.")
    async def participant(self, info: Info, room: str, identity: str) -> Participant | None:
        return Participant.from_proto(
            await participant_ops.get_participant(*await info.context.caller(), room, identity)
        )


def _selects(selections: list[Selection], name: str) -> bool:
    """Whether `name` is among these selections, fragments included (directives are not evaluated)."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        elif _selects(selection.selections, name):
            return True
    return False
