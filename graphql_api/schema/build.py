"""The schema built: the checks around every operation (parse, validate, present errors) and the limits.

`GxrtcSchema` is Strawberry's schema with our checks, and the speed-ups
(`graphql_api._speedups`) unless `GXRTC_SPEEDUPS=off`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import graphql
import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from .. import _speedups
from .._speedups._internals import validate_document
from .._speedups.direct_resolvers import call_resolvers_directly
from .._speedups.lean_execute import lean_execute
from .._speedups.names import RememberingNameConverter
from .._speedups.one_field import SingleFieldPlan, plan_operation
from ..i18n import Language
from ..server.observe import note_operation
from ..settings import Settings
from .context import Context
from .mutations import Mutation
from .operation_label import INVALID, operation_label
from .presentation import present, without_suggestions
from .queries import Query
from .subscriptions import Subscription
from .types import SCALARS
from .weighed_cache import WeighedCache

__all__ = ["GxrtcSchema", "build_schema", "schema"]


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

    def _label(self, query: str | None, operation_name: str | None) -> str:
        """The operation's name for metrics (see operation_label), from the cached parse."""
        if not query:
            return INVALID
        try:
            document, errors = self._checks.prepare(self._schema, query)
        except GraphQLError:
            return INVALID
        return operation_label(document, errors, operation_name)

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
        if isinstance(context_value, Context) and context_value.request is not None:
            note_operation(context_value.request.scope, self._label(query, operation_name))
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
