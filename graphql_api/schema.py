"""The GraphQL schema: Query and Mutation over the transport-free resolvers."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from . import resolvers
from .context import Info
from .errors import GxrtcError
from .types import SCALARS, JoinToken, Room

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
