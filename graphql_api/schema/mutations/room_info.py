"""updateRoomMetadata and sendMessage: the room itself (`graphql_api.core.room_info`, `graphql_api.core.messages`)."""

from __future__ import annotations

import strawberry

from ...core import messages as message_ops
from ...core import room_info as room_info_ops
from ..context import Info
from ..types import Room

__all__ = ["RoomInfoMutations"]


@strawberry.type(description="A message sent to a room's participants (reliably, through LiveKit).")
class SentMessage:
    room: str
    topic: str | None
    identities: list[str] = strawberry.field(description="To whom; empty: everyone in the room.")
    payload_bytes: int = strawberry.field(description="The payload's size in bytes of UTF-8.")


@strawberry.type
class RoomInfoMutations:
    @strawberry.mutation(
        description=(
            'Set a room\'s metadata ("" clears it); its participants are told (moderators of the room, admins).'
            " NOT_FOUND for no such room."
        )
    )
    async def update_room_metadata(self, info: Info, room: str, metadata: str) -> Room:
        return Room.from_proto(await room_info_ops.update_room_metadata(*await info.context.caller(), room, metadata))

    @strawberry.mutation(
        description=(
            "Send `payload` (text) reliably to `identities` in a room, or to everyone in it when they are not"
            " given, on `topic` (moderators of the room, admins). On `roomEvents` as MESSAGE_SENT, without its payload."
        )
    )
    async def send_message(
        self,
        info: Info,
        room: str,
        payload: str,
        identities: list[str] | None = None,
        topic: str | None = None,
    ) -> SentMessage:
        sent = await message_ops.send_message(
            *await info.context.caller(), room, payload, identities=identities, topic=topic
        )
        return SentMessage(
            room=sent.room, topic=sent.topic, identities=list(sent.identities), payload_bytes=sent.payload_bytes
        )
