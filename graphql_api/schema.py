"""The GraphQL schema: Query and Mutation over the transport-free resolvers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from inspect import isawaitable
from typing import Any

import graphql
import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, validate_document
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.nodes import SelectedField, Selection
from strawberry.utils.operation import get_operation_type

from . import resolvers
from .context import Context, Info
from .executor import LeafFastExecutor
from .i18n import Language
from .presentation import present, without_suggestions
from .settings import Settings
from .single_field import SingleFieldPlan, plan_operation
from .types import SCALARS, JoinToken, Participant, ParticipantPermissionInput, Room, RoomEvent, TrackSource
from .viewer import ViewerQuery
from .weighed_cache import WeighedCache

__all__ = ["GxrtcSchema", "Mutation", "Query", "Subscription", "build_schema", "schema"]


@strawberry.type
class Query(ViewerQuery):
    @strawberry.field(description="Rooms on the LiveKit server; with `names`, only those rooms.")
    async def rooms(self, info: Info, names: list[str] | None = None) -> list[Room]:
        core, principal = await info.context.caller()
        if not _selects(info.selected_fields[0].selections, "participants"):
            return [Room.from_proto(room) for room in await resolvers.list_rooms(core, principal, names)]
        # An overview: the listing and the whole fan-out in one step, both from the overview cache,
        # rather than a resolver and a loader future per room.
        rooms = await resolvers.list_rooms(core, principal, names, overview=True)
        everyone = await resolvers.list_participants_of_rooms(core, principal, [room.name for room in rooms])
        return [Room.from_proto(room).with_participants(p) for room, p in zip(rooms, everyone, strict=True)]

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
            context.graphql_document, self._errors = _STAND_IN, [error]
        yield

    def on_validate(self) -> Iterator[None]:
        self.execution_context.pre_execution_errors = self._errors
        yield


class _NameConverter(NameConverter):
    """Strawberry converts every argument's name to camelCase on every call; the names never change."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


class GxrtcSchema(strawberry.Schema):
    """Strawberry's schema with a lean `execute` for queries and mutations.

    Strawberry's own `execute` builds an execution context and a context
    manager per extension hook on every request, which was about a third of a
    `createToken`'s time. This one runs the same steps (cached parse,
    operation type check, cached validation, graphql-core execution, error
    presentation) directly. Subscriptions keep Strawberry's path, guarded by
    the same checks through `Guard`.
    """

    def __init__(self, *, checks: _Checks, **options: Any) -> None:
        super().__init__(**options, extensions=[lambda: Guard(checks)])
        self._checks = checks
        _call_resolvers_directly(self)

    def _process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Strawberry's streaming paths (subscriptions, operations over a WebSocket) hand every
        # error here before sending it: presented in place, as `execute` presents its own.
        context = execution_context.context if execution_context is not None else None
        errors[:] = self._checks.present(errors, context)

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
        if not query:
            raise MissingQueryError
        checks = self._checks
        try:
            document, errors = checks.prepare(self._schema, query)
        except GraphQLError as error:
            return ExecutionResult(data=None, errors=[error])
        try:
            operation_type = get_operation_type(document, operation_name)
        except RuntimeError as exc:
            raise CannotGetOperationTypeError(operation_name) from exc
        allowed = DEFAULT_ALLOWED_OPERATION_TYPES if allowed_operation_types is None else allowed_operation_types
        if operation_type not in allowed:
            raise InvalidOperationTypeError(operation_type)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        plan = checks.plan(self._schema, query, operation_name)
        if plan is not None:
            planned = await plan.execute(variable_values, context_value, root_value)
            return ExecutionResult(
                data=planned.data, errors=checks.present(planned.errors, context_value) if planned.errors else None
            )
        result = graphql.execute(
            self._schema,
            document,
            root_value=root_value,
            context_value=context_value,
            variable_values=variable_values,
            operation_name=operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # a TypeGuard in all but its annotation
            executor_class=LeafFastExecutor,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, graphql.ExecutionResult)
        return ExecutionResult(
            data=result.data, errors=checks.present(result.errors, context_value) if result.errors else None
        )


def _call_resolvers_directly(schema: strawberry.Schema) -> None:
    """Call our resolvers straight from graphql-core where Strawberry's wrapper adds nothing.

    For every field, Strawberry's resolver wrapper converts each argument through
    its generic input machinery, builds an extension chain and a partial, and
    only then calls the function: about a fifth of a `createToken`'s execution.
    For a field whose arguments are all scalars, enums or lists of them (which
    graphql-core has already coerced to their final values) and that has no field
    extensions, the conversion is the identity, so graphql-core calls this
    instead: rename the arguments, add `info`, call. Fields with input objects
    (or anything else) keep Strawberry's wrapper.
    """
    converter = schema.schema_converter
    if converter._exception_handler_specs:
        return  # Strawberry's exception handlers would be skipped
    info_class = schema.config.info_class
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, graphql.GraphQLObjectType) or type_ is schema._schema.subscription_type:
            continue
        for graphql_field in type_.fields.values():
            field = (graphql_field.extensions or {}).get(converter.DEFINITION_BACKREF)
            resolver = getattr(field, "base_resolver", None)
            if field is None or resolver is None or field.extensions:
                continue
            if resolver.root_parameter is not None or resolver.parent_parameter is not None:
                continue
            if not all(_is_leaf(argument.type) for argument in graphql_field.args.values()):
                continue
            graphql_field.resolve = _direct(field, resolver, info_class, schema.config.name_converter)


def _is_leaf(type_: graphql.GraphQLInputType) -> bool:
    named = graphql.get_nullable_type(type_)
    if isinstance(named, graphql.GraphQLList):
        named = graphql.get_nullable_type(named.of_type)
    return isinstance(named, graphql.GraphQLScalarType | graphql.GraphQLEnumType)


def _direct(field: Any, resolver: Any, info_class: type, names: NameConverter) -> Callable[..., Any]:
    function = resolver.wrapped_func
    python_names = {names.from_argument(argument): argument.python_name for argument in field.arguments}
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    takes_self = resolver.self_parameter is not None

    # Positional-only: an argument may well be called `source` or `info` (muteParticipant's is).
    def resolve(source: Any, info: graphql.GraphQLResolveInfo[Any], /, **arguments: Any) -> Any:
        # Lists are copied: graphql-core hands every request the same default object.
        kwargs = {python_names[name]: list(v) if type(v) is list else v for name, v in arguments.items()}
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return function(source, **kwargs) if takes_self else function(**kwargs)

    return resolve


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
    return GxrtcSchema(
        checks=_Checks(max_tokens=tokens, max_query_bytes=query_bytes, rules=rules, suggestions=dev),
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=not dev, name_converter=_NameConverter()),
    )


schema = build_schema()
