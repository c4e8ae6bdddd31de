"""A lean `execute` for queries and mutations, in place of Strawberry's `Schema.execute`.

Strawberry's own `execute` builds an execution context and a context manager
per extension hook on every request, a large share of a `createToken`'s time.
This one runs the same steps directly: the cached parse, the operation type
check, the cached validation, the one-field plan or graphql-core's execution
(with the leaf executor), and error presentation. Subscriptions always take
Strawberry's path, guarded by the same checks through the schema's `Guard`
extension, which is also what Strawberry's `execute` runs when the speed-ups
are off.

Proven equal to Strawberry's path by tests/unit/speedups/test_lean_execute.py (the
same answers, errors included, both ways) and by the integration suite, which
`make test` runs with `GXRTC_SPEEDUPS=off` as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from inspect import isawaitable
from typing import Any, Protocol

import graphql
from graphql import GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from ._internals import DEFAULT_ALLOWED_OPERATION_TYPES, get_operation_type, optimized_is_awaitable
from .executor import LeafFastExecutor
from .one_field import SingleFieldPlan

__all__ = ["Checks", "lean_execute"]


class Checks(Protocol):
    """What the schema checks around an operation (see `graphql_api.schema._Checks`)."""

    def prepare(self, schema: graphql.GraphQLSchema, query: str) -> tuple[graphql.DocumentNode, list[GraphQLError]]: ...

    def plan(self, schema: graphql.GraphQLSchema, query: str, operation_name: str | None) -> SingleFieldPlan | None: ...

    def present(self, errors: list[GraphQLError], context: object) -> list[GraphQLError]: ...


async def lean_execute(
    schema: graphql.GraphQLSchema,
    checks: Checks,
    query: str | None,
    variable_values: dict[str, Any] | None = None,
    context_value: Any | None = None,
    root_value: Any | None = None,
    operation_name: str | None = None,
    allowed_operation_types: Iterable[OperationType] | None = None,
) -> ExecutionResult:
    if not query:
        raise MissingQueryError
    try:
        document, errors = checks.prepare(schema, query)
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
    plan = checks.plan(schema, query, operation_name)
    if plan is not None:
        planned = await plan.execute(variable_values, context_value, root_value)
        return ExecutionResult(
            data=planned.data, errors=checks.present(planned.errors, context_value) if planned.errors else None
        )
    result = graphql.execute(
        schema,
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
