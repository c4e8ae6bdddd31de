"""The GraphQL schema: Query and Mutation over the transport-free resolvers."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig

from . import resolvers
from .context import Info
from .errors import GxrtcError
from .types import SCALARS, JoinToken, Participant, ParticipantPermissionInput, Room, TrackSource

__all__ = ["Mutation", "Query", "build_schema"]


@strawberry.type
class Query:
    @strawberry.field(description="Rooms on the LiveKit server; with `names`, only those rooms.")
    async def rooms(self, info: Info, names: list[str] | None = None) -> list[Room]:
        rooms = await resolvers.list_rooms(info.context.core, names)
        return [Room.from_proto(room) for room in rooms]

    @strawberry.field(description="One room by name; NOT_FOUND when there is no such room.")
    async def room(self, info: Info, name: str) -> Room | None:
        return Room.from_proto(await resolvers.get_room(info.context.core, name))

    @strawberry.field(description="Who is in a room; NOT_FOUND when there is no such room.")
    async def participants(self, info: Info, room: str) -> list[Participant]:
        participants = await resolvers.list_participants(info.context.core, room)
        return [Participant.from_proto(participant) for participant in participants]

    @strawberry.field(description="One participant; NOT_FOUND when the room or the participant is missing.")
    async def participant(self, info: Info, room: str, identity: str) -> Participant | None:
        return Participant.from_proto(await resolvers.get_participant(info.context.core, room, identity))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Mint a token that lets `identity` join `room`.")
    async def create_token(
        self,
        info: Info,
        room: str,
        identity: str,
        name: str | None = None,
        ttl_seconds: int | None = None,
    ) -> JoinToken:
        token = await resolvers.create_token(
            info.context.core, room=room, identity=identity, name=name, ttl_seconds=ttl_seconds
        )
        return JoinToken.from_data(token)

    @strawberry.mutation(description="Create a room, or return it as it is when it exists already.")
    async def create_room(
        self,
        info: Info,
        name: str,
        empty_timeout: int | None = None,
        departure_timeout: int | None = None,
        max_participants: int | None = None,
        metadata: str | None = None,
    ) -> Room:
        room = await resolvers.create_room(
            info.context.core,
            name=name,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
            metadata=metadata,
        )
        return Room.from_proto(room)

    @strawberry.mutation(description="Close a room, disconnecting everyone in it; returns the room as it was.")
    async def delete_room(self, info: Info, name: str) -> Room:
        return Room.from_proto(await resolvers.delete_room(info.context.core, name))

    @strawberry.mutation(description="Disconnect a participant from its room. True when done.")
    async def kick_participant(self, info: Info, room: str, identity: str) -> bool:
        await resolvers.kick_participant(info.context.core, room, identity)
        return True

    @strawberry.mutation(
        description=(
            "Mute (or with `muted: false`, unmute) a participant's microphone tracks, or the one track or"
            " source given. Returns the participant with its tracks as they are now."
        )
    )
    async def mute_participant(
        self,
        info: Info,
        room: str,
        identity: str,
        muted: bool = True,
        track_sid: str | None = None,
        source: TrackSource | None = None,  # type: ignore[valid-type]
    ) -> Participant:
        participant = await resolvers.mute_participant(
            info.context.core,
            room,
            identity,
            muted=muted,
            track_sid=track_sid,
            source=source.name if source is not None else None,
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(
        description=(
            "Change a participant's metadata, name or attributes. Attributes merge into the current ones;"
            " an empty value deletes its key."
        )
    )
    async def update_participant_info(
        self,
        info: Info,
        room: str,
        identity: str,
        metadata: str | None = None,
        attributes: JSON | None = None,
        name: str | None = None,
    ) -> Participant:
        participant = await resolvers.update_participant(
            info.context.core, room, identity, metadata=metadata, attributes=attributes, name=name
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(description="Change what a participant may do; fields left out keep their current value.")
    async def update_participant_permissions(
        self, info: Info, room: str, identity: str, permission: ParticipantPermissionInput
    ) -> Participant:
        participant = await resolvers.update_participant(
            info.context.core, room, identity, permission=permission.to_patch()
        )
        return Participant.from_proto(participant)


def _is_internal(error: GraphQLError) -> bool:
    # Errors without an original error are GraphQL's own (syntax, validation)
    # and safe to show; ours carry their code; anything else is masked.
    original = error.original_error
    return original is not None and not isinstance(original, GxrtcError)


class ErrorMasker(MaskErrors):
    """Shows our own errors and GraphQL's, hides everything else behind INTERNAL_SERVER_ERROR."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[ErrorMasker, lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024)],
    )


schema = build_schema()
