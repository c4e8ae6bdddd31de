"""The GraphQL schema: Query and Mutation over the transport-free resolvers."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import graphql
import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document

from . import resolvers
from .context import Context, Info
from .errors import GxrtcError
from .i18n import Language, localize
from .settings import Settings
from .types import SCALARS, JoinToken, Participant, ParticipantPermissionInput, Room, RoomEvent, TrackSource

__all__ = ["Mutation", "Query", "Subscription", "build_schema", "schema"]

log = logging.getLogger(__name__)


@strawberry.type
class Query:
    @strawberry.field(description="Rooms on the LiveKit server; with `names`, only those rooms.")
    async def rooms(self, info: Info, names: list[str] | None = None) -> list[Room]:
        rooms = await resolvers.list_rooms(*await info.context.caller(), names)
        return [Room.from_proto(room) for room in rooms]

    @strawberry.field(description="One room by name; NOT_FOUND when there is no such room.")
    async def room(self, info: Info, name: str) -> Room | None:
        return Room.from_proto(await resolvers.get_room(*await info.context.caller(), name))

    @strawberry.field(description="Who is in a room; NOT_FOUND when there is no such room.")
    async def participants(self, info: Info, room: str) -> list[Participant]:
        participants = await resolvers.list_participants(*await info.context.caller(), room)
        return [Participant.from_proto(participant) for participant in participants]

    @strawberry.field(description="One participant; NOT_FOUND when the room or the participant is missing.")
    async def participant(self, info: Info, room: str, identity: str) -> Participant | None:
        return Participant.from_proto(await resolvers.get_participant(*await info.context.caller(), room, identity))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Mint a token that lets `identity` join `room`. Users mint for themselves only; `hidden` is for admins;"
            " `canPublishSources` limits what the client may publish, within what the caller's role allows."
        )
    )
    async def create_token(
        self,
        info: Info,
        room: str,
        identity: str,
        name: str | None = None,
        ttl_seconds: int | None = None,
        can_publish_sources: list[TrackSource] | None = None,  # type: ignore[valid-type]
        hidden: bool = False,
    ) -> JoinToken:
        token = await resolvers.create_token(
            *await info.context.caller(),
            room=room,
            identity=identity,
            name=name,
            ttl_seconds=ttl_seconds,
            can_publish_sources=[source.name for source in can_publish_sources]  # type: ignore[attr-defined]
            if can_publish_sources
            else None,
            hidden=hidden,
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
            *await info.context.caller(),
            name=name,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
            metadata=metadata,
        )
        return Room.from_proto(room)

    @strawberry.mutation(description="Close a room, disconnecting everyone in it; returns the room as it was.")
    async def delete_room(self, info: Info, name: str) -> Room:
        return Room.from_proto(await resolvers.delete_room(*await info.context.caller(), name))

    @strawberry.mutation(description="Disconnect a participant from its room. True when done.")
    async def kick_participant(self, info: Info, room: str, identity: str) -> bool:
        await resolvers.kick_participant(*await info.context.caller(), room, identity)
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
            *await info.context.caller(),
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
            *await info.context.caller(), room, identity, metadata=metadata, attributes=attributes, name=name
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(description="Change what a participant may do; fields left out keep their current value.")
    async def update_participant_permissions(
        self, info: Info, room: str, identity: str, permission: ParticipantPermissionInput
    ) -> Participant:
        participant = await resolvers.update_participant(
            *await info.context.caller(), room, identity, permission=permission.to_patch()
        )
        return Participant.from_proto(participant)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "A room's events as they happen (every room with `room: null`, for admins), starting with a SNAPSHOT."
            ' Authenticate in connection_init with {"Authorization": "Bearer ..."}.'
        )
    )
    async def room_events(self, info: Info, room: str | None = None) -> AsyncGenerator[RoomEvent, None]:
        async for event in resolvers.room_events(*await info.context.caller(), room):
            yield RoomEvent.from_event(event)


class Guard(SchemaExtension):
    """Everything the schema checks around an operation, in one extension.

    Strawberry builds a context manager per extension per hook per request;
    one extension instead of six (parser cache, token limit, validation rules,
    validation cache, introspection off, error masking) took a measurable
    share off every request.

    - Parse: at most `max_tokens` tokens, cached by query text.
    - Validate: the standard rules plus depth, aliases and (in production) no
      introspection; cached by document and rules.
    - Errors: ours are shown (localized, with their code) and GraphQL's own
      (syntax, validation, which have no original exception); anything else
      is a bug, logged, and shown only as INTERNAL_SERVER_ERROR.
    """

    def __init__(self, *, parse: Callable[..., Any], validate: Callable[..., Any], rules: tuple[Any, ...]) -> None:
        super().__init__()
        self._parse = parse
        self._validate = validate
        self._rules = rules

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self._parse(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self._rules
        context.pre_execution_errors = self._validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if not errors:
            return
        context = self.execution_context.context
        language: Language = context.language if isinstance(context, Context) else "en"
        result.errors = [_present(error, language) for error in errors]  # type: ignore[union-attr]


def _present(error: GraphQLError, language: Language) -> GraphQLError:
    original = error.original_error
    if original is None:
        return error
    if isinstance(original, GxrtcError):
        message = localize(original, language, {})
        extensions: dict[str, Any] | None = original.extensions
    else:
        log.error("unexpected error in GraphQL resolver %s", error.path, exc_info=original)
        message, extensions, original = "Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"}, None
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the limits of `settings`; without settings, the full dev schema (for SDL export)."""
    dev = settings is None or settings.env == "dev"
    depth = settings.graphql_max_depth if settings else 10
    aliases = settings.graphql_max_aliases if settings else 30
    tokens = settings.graphql_max_tokens if settings else 2000
    rules = (
        *QueryDepthLimiter(max_depth=depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=aliases).validation_rules,
        *(() if dev else (NoSchemaIntrospectionCustomRule,)),
    )
    # Built once per schema, so the caches live as long as the app and the rules are
    # the same objects on every request (the validation cache keys on them).
    parse = functools.lru_cache(maxsize=1024)(functools.partial(graphql.parse, max_tokens=tokens))
    validate = functools.lru_cache(maxsize=1024)(validate_document)
    extensions: list[Any] = [lambda: Guard(parse=parse, validate=validate, rules=rules)]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=not dev),
        extensions=extensions,
    )


schema = build_schema()
