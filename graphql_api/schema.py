"""The GraphQL schema: Query, Mutation and Subscription over the core's operations (`graphql_api.core`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Iterator
from typing import Any

import graphql
import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.nodes import SelectedField, Selection

from . import _speedups
from ._speedups._internals import validate_document
from ._speedups.direct_resolvers import call_resolvers_directly
from ._speedups.lean_execute import lean_execute
from ._speedups.names import RememberingNameConverter
from ._speedups.one_field import SingleFieldPlan, plan_operation
from .context import Context, Info
from .core import participants as participant_ops
from .core import room_events as event_ops
from .core import rooms as room_ops
from .core import tokens as token_ops
from .i18n import Language
from .presentation import present, without_suggestions
from .settings import Settings
from .types import SCALARS, JoinToken, Participant, ParticipantPermissionInput, Room, RoomEvent, TrackSource
from .weighed_cache import WeighedCache

__all__ = ["GxrtcSchema", "Mutation", "Query", "Subscription", "build_schema", "schema"]


@strawberry.type
class Query:
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

    @strawberry.field(description="One room by name; NOT_FOUND when there is no such room.")
    async def room(self, info: Info, name: str) -> Room | None:
        return Room.from_proto(await room_ops.get_room(*await info.context.caller(), name))

    @strawberry.field(description="Who is in a room; NOT_FOUND when there is no such room.")
    async def participants(self, info: Info, room: str) -> list[Participant]:
        participants = await participant_ops.list_participants(*await info.context.caller(), room)
        return [Participant.from_proto(participant) for participant in participants]

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
        token = await token_ops.create_token(
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
        room = await room_ops.create_room(
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
        return Room.from_proto(await room_ops.delete_room(*await info.context.caller(), name))

    @strawberry.mutation(description="Disconnect a participant from its room. True when done.")
    async def kick_participant(self, info: Info, room: str, identity: str) -> bool:
        await participant_ops.kick_participant(*await info.context.caller(), room, identity)
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
        participant = await participant_ops.mute_participant(
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
        participant = await participant_ops.update_participant(
            *await info.context.caller(), room, identity, metadata=metadata, attributes=attributes, name=name
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(description="Change what a participant may do; fields left out keep their current value.")
    async def update_participant_permissions(
        self, info: Info, room: str, identity: str, permission: ParticipantPermissionInput
    ) -> Participant:
        participant = await participant_ops.update_participant(
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
        async for event in event_ops.room_events(*await info.context.caller(), room):
            yield RoomEvent.from_event(event)


_CACHED_TEXT = 256 * 1024
"""Query text the caches keep at most, in characters; the parsed trees come to about 150 bytes a character."""


def _query_weight(schema: object, query: str, *_: object) -> int:
    return len(query) + 256  # what even the shortest document costs besides its text


class _Checks:
    """Everything the schema checks around an operation, shared by queries, mutations and subscriptions.

    - Parse: at most `max_tokens` tokens, cached by query text.
    - Validate: the standard rules plus depth, aliases and (in production) no
      introspection; cached by document and rules.
    - Errors: see `presentation` (ours with their code, the caller's input
      mistakes as BAD_USER_INPUT, bugs masked; no suggestions in production).
    """

    def __init__(
        self, *, max_tokens: int, rules: tuple[Any, ...], suggestions: bool, max_query_bytes: int = 32 * 1024
    ) -> None:
        self._max_tokens = max_tokens
        self._max_query_bytes = max_query_bytes
        self._rules = (*specified_rules, *rules)
        self._suggestions = suggestions
        # Keyed by the query text, whose hash Python keeps: graphql-core hashes a
        # document by walking all of its nodes, on every lookup. Bounded by the texts'
        # total length too, since each document keeps its text and a tree that grows with it.
        self._prepared = WeighedCache(self._prepare, max_entries=1024, max_weight=_CACHED_TEXT, weigh=_query_weight)
        self.plan = WeighedCache(self._plan, max_entries=1024, max_weight=_CACHED_TEXT, weigh=_query_weight)

    def prepare(self, schema: graphql.GraphQLSchema, query: str) -> tuple[graphql.DocumentNode, list[GraphQLError]]:
        """The parsed document and its validation errors; raises GraphQLError on bad syntax or an oversized query."""
        size = len(query) if query.isascii() else len(query.encode(errors="replace"))
        if size > self._max_query_bytes:
            raise GraphQLError(f"the query is longer than {self._max_query_bytes} bytes")
        return self._prepared(schema, query)

    def _prepare(self, schema: graphql.GraphQLSchema, query: str) -> tuple[graphql.DocumentNode, list[GraphQLError]]:
        """The parsed document and its validation errors; raises GraphQLError on a syntax error."""
        document = graphql.parse(query, max_tokens=self._max_tokens)
        errors = validate_document(schema, document, self._rules)
        if not self._suggestions:
            for error in errors:
                without_suggestions(error)
        return document, errors

    def _plan(self, schema: graphql.GraphQLSchema, query: str, operation_name: str | None) -> SingleFieldPlan | None:
        """The one-field plan of a valid query's operation, or None."""
        document, errors = self.prepare(schema, query)
        return None if errors else plan_operation(schema, document, operation_name)

    def present(self, errors: list[GraphQLError], context: object) -> list[GraphQLError]:
        language: Language = context.language if isinstance(context, Context) else "en"
        return [present(error, language, suggestions=self._suggestions) for error in errors]


_STAND_IN = graphql.parse("subscription { __typename }")
"""The document of an operation refused before parsing, or that did not parse: never executed."""
_QUERY_STAND_IN = graphql.parse("{ __typename }")
"""The same, where subscriptions are not allowed (a POST on Strawberry's path): never executed either."""


class Guard(SchemaExtension):
    """`_Checks` for subscriptions, which only run through Strawberry's extension hooks."""

    def __init__(self, checks: _Checks) -> None:
        super().__init__()
        self._checks = checks
        self._errors: list[GraphQLError] = []

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None
        try:
            context.graphql_document, self._errors = self._checks.prepare(context.schema._schema, context.query)
        except GraphQLError as error:
            # Raised from this hook it would escape Strawberry's own handling (a traceback, and the
            # operation completes without a word); a stand-in document takes it to validation instead.
            allowed = context.allowed_operations
            stand_in = _STAND_IN if OperationType.SUBSCRIPTION in allowed else _QUERY_STAND_IN
            context.graphql_document, self._errors = stand_in, [error]
        yield

    def on_validate(self) -> Iterator[None]:
        self.execution_context.pre_execution_errors = self._errors
        yield


class GxrtcSchema(strawberry.Schema):
    """Strawberry's schema with our checks around every operation, and the speed-ups unless they are off.

    The checks (`_Checks`) run through the `Guard` extension on Strawberry's
    own paths (subscriptions always; queries and mutations when
    `GXRTC_SPEEDUPS=off`), and directly in `lean_execute` otherwise.
    """

    def __init__(self, *, checks: _Checks, speedups: bool | None = None, **options: Any) -> None:
        super().__init__(**options, extensions=[lambda: Guard(checks)])
        self._checks = checks
        self._speedups = _speedups.enabled() if speedups is None else speedups
        if self._speedups:
            call_resolvers_directly(self)

    def _process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Strawberry's paths (subscriptions, operations over a WebSocket, everything with the
        # speed-ups off) hand every error here before sending it: presented in place, as
        # `lean_execute` presents its own.
        context = execution_context.context if execution_context is not None else None
        errors[:] = self._checks.present(errors, context)

    def _unnamed_among_several(self, query: str | None, operation_name: str | None) -> GraphQLError | None:
        """graphql-core's refusal of a document of several operations without a name (Strawberry runs the first)."""
        if operation_name is not None or not query:
            return None
        try:
            document, _ = self._checks.prepare(self._schema, query)
        except GraphQLError:
            return None  # refused as it is on Strawberry's path
        operations = [node for node in document.definitions if isinstance(node, graphql.OperationDefinitionNode)]
        if len(operations) < 2:
            return None
        return GraphQLError("Must provide operation name if query contains multiple operations.")

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if not self._speedups:
            ambiguous = self._unnamed_among_several(query, operation_name)
            if ambiguous is not None:
                return ExecutionResult(data=None, errors=self._checks.present([ambiguous], context_value))
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        return await lean_execute(
            self._schema,
            self._checks,
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
        )


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the limits of `settings`; without settings, the full dev schema (for SDL export)."""
    dev = settings is None or settings.env == "dev"
    depth = settings.graphql_max_depth if settings else 10
    aliases = settings.graphql_max_aliases if settings else 30
    tokens = settings.graphql_max_tokens if settings else 2000
    query_bytes = settings.graphql_max_query_bytes if settings else 32 * 1024
    rules = (
        *QueryDepthLimiter(max_depth=depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=aliases).validation_rules,
        *(() if dev else (NoSchemaIntrospectionCustomRule,)),
    )
    names = RememberingNameConverter() if _speedups.enabled() else NameConverter()
    return GxrtcSchema(
        checks=_Checks(max_tokens=tokens, max_query_bytes=query_bytes, rules=rules, suggestions=dev),
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(
            scalar_map=SCALARS,
            disable_field_suggestions=not dev,
            name_converter=names,
        ),
    )


schema = build_schema()
