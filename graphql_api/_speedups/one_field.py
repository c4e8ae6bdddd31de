"""A short path for operations of one root field with plain arguments: what web clients send most.

`mutation($room: String!, $identity: String!) { createToken(...) { token expiresAt url } }`
spends most of its graphql-core time on scaffolding around one resolver call:
an executor object, variable signatures rebuilt from the AST on every request,
generic argument coercion, the serial-reduce machinery of mutations and a
completion step per field. For an operation of exactly one root field whose
variables and arguments are scalars or enums, with no fragments or directives
at the root, the plan made here (once per document) does the same steps
directly: coerce the variables, build the arguments, call the field's resolver
with a real `GraphQLResolveInfo`, and complete the result with the executor's
leaf plan.

Anything unusual in a request (a variable missing or of the wrong type, the
resolver raising, a value the leaf plan cannot complete) hands the request to
graphql-core. The resolver is never called twice: when it has already run,
graphql-core is given its outcome (value or exception) through a middleware
on the root field, so errors, null handling and messages are graphql-core's own.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    get_nullable_type,
)

from ._internals import (
    FieldDetails,
    FieldDetailsList,
    GraphQLResolveInfoHelpers,
    GraphQLVariableSignature,
    Path,
    VariableValues,
    VariableValueSource,
    coerce_default_value,
    coerce_input_literal,
    coerce_input_value,
    gather_with_cancel,
    get_variable_signature,
    input_is_nested_too_deeply,
    isawaitable,
)
from .executor import LeafFastExecutor, Plan, complete, make_step

__all__ = ["SingleFieldPlan", "plan_operation"]

_first = operator.itemgetter(0)


class _Ineligible(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    signature: GraphQLVariableSignature
    type: GraphQLInputType
    non_null: bool
    nested: bool
    """A list type, whose values graphql-core checks for excessive nesting first."""
    default: Any
    """The coerced default, or Undefined when the variable has none."""


# (argument name as the resolver receives it, variable name or None, literal value or default)
_Argument = tuple[str, str | None, Any]


class _StaticFields:
    """Collects sub-selections the way graphql-core does when there are no fragments or directives."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[dict[str, list[FieldDetails]], tuple[()], None]:
        grouped: dict[str, list[FieldDetails]] = {}
        for details in field_details_list:
            selection_set = details.node.selection_set
            for selection in selection_set.selections if selection_set else ():
                if not isinstance(selection, FieldNode) or selection.directives:
                    raise _Ineligible
                name = (selection.alias or selection.name).value
                grouped.setdefault(name, []).append(FieldDetails(selection, None))
        return grouped, (), None


class SingleFieldPlan:
    """One root field, prepared: see the module's docstring."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        parent_type: GraphQLObjectType,
        node: FieldNode,
    ) -> None:
        self.schema = schema
        self.document = document
        self.operation = operation
        self.operation_name = operation.name.value if operation.name else None
        self.parent_type = parent_type
        self.response_name = (node.alias or node.name).value
        field = schema.get_field(parent_type, node.name.value)
        if field is None or field.resolve is None or node.directives:
            raise _Ineligible
        self.field_name = node.name.value
        self.field_nodes = [node]
        self.return_type = field.type
        self.resolve = field.resolve
        self.path = Path(None, self.response_name, parent_type.name)
        self.variables = tuple(_variable(schema, definition) for definition in operation.variable_definitions or ())
        declared = {variable.name for variable in self.variables}
        self.arguments = tuple(_argument(name, argument, node, declared) for name, argument in field.args.items())
        nullable = {variable.name for variable in self.variables if not variable.non_null}
        # A nullable variable (with a default) in a non-null argument: a null sent for it
        # is graphql-core's to refuse, before the resolver runs.
        self.must_not_be_null = frozenset(
            variable
            for (_, variable, _), argument in zip(self.arguments, field.args.values(), strict=True)
            if variable in nullable and isinstance(argument.type, GraphQLNonNull)
        )
        collector = _StaticFields(schema)
        step = make_step(collector, self.response_name, _first, False, field.type, [FieldDetails(node, None)])
        if step is None:
            raise _Ineligible
        self.plan: Plan = (step,)

    async def execute(
        self, raw_variables: dict[str, Any] | None, context_value: Any, root_value: Any
    ) -> graphql.ExecutionResult:
        variables = self._coerce(raw_variables or {})
        if variables is None:
            return await self._graphql_core(raw_variables, context_value, root_value, None)
        coerced = variables.coerced
        kwargs: dict[str, Any] = {}
        for name, variable, value in self.arguments:
            if variable is None:
                if value is not Undefined:
                    kwargs[name] = value
            elif variable in coerced:
                value = coerced[variable]
                if value is None and variable in self.must_not_be_null:
                    return await self._graphql_core(raw_variables, context_value, root_value, None)
                kwargs[name] = value
            else:
                # Omitted nullable variable: graphql-core's default handling decides.
                return await self._graphql_core(raw_variables, context_value, root_value, None)
        tracked: list[Awaitable[Any]] = []
        info: GraphQLResolveInfo[Any] = GraphQLResolveInfo(
            self.field_name,
            self.field_nodes,
            self.return_type,
            self.parent_type,
            self.path,
            self.schema,
            {},
            root_value,
            self.operation,
            variables,
            context_value,
            isawaitable,
            None,
            GraphQLResolveInfoHelpers(gather=_gather, track=_tracker(tracked)),
        )
        try:
            value = self.resolve(root_value, info, **kwargs)
            if isawaitable(value):
                value = await value
        except Exception as exc:
            return await self._graphql_core(raw_variables, context_value, root_value, (exc,))
        finally:
            if tracked:
                await gather_with_cancel(*(_settled(work) for work in tracked))
        data = complete(self.plan, (value,))
        if data is None:
            return await self._graphql_core(raw_variables, context_value, root_value, (value,))
        return graphql.ExecutionResult(data=data)

    def _coerce(self, raw: dict[str, Any]) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for variable in self.variables:
            name = variable.name
            value = raw.get(name, Undefined)
            if value is Undefined:
                sources[name] = VariableValueSource(variable.signature)
                if variable.default is not Undefined:
                    coerced[name] = variable.default
                elif variable.non_null:
                    return None
                continue
            sources[name] = VariableValueSource(variable.signature, value)
            if variable.nested and input_is_nested_too_deeply(value, variable.type):
                return None
            # Undefined when invalid: graphql-core then words the error.
            parsed = coerce_input_value(value, variable.type)
            if parsed is Undefined:
                return None
            coerced[name] = parsed
        return VariableValues(sources, coerced)

    async def _graphql_core(
        self, raw_variables: dict[str, Any] | None, context_value: Any, root_value: Any, outcome: tuple[Any] | None
    ) -> graphql.ExecutionResult:
        middleware = None if outcome is None else [_Replay(outcome[0])]
        result = graphql.execute(
            self.schema,
            self.document,
            root_value=root_value,
            context_value=context_value,
            variable_values=raw_variables,
            operation_name=self.operation_name,
            is_awaitable=isawaitable,
            executor_class=LeafFastExecutor,
            middleware=middleware,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, graphql.ExecutionResult)
        return result


class _Replay:
    """Middleware: the root field's outcome, already known, instead of a second call of its resolver."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        if info.path.prev is not None:
            return next_(root, info, **args)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


def _tracker(tracked: list[Awaitable[Any]]) -> Callable[[Sequence[Any]], None]:
    def track(values: Sequence[Any]) -> None:
        tracked.extend(value for value in values if isawaitable(value))

    return track


async def _settled(work: Awaitable[Any]) -> None:
    # Tracked work's errors are observed and dropped, as graphql-core drops them.
    with contextlib.suppress(Exception):
        await work


def _variable(schema: GraphQLSchema, definition: graphql.VariableDefinitionNode) -> _Variable:
    if definition.directives:
        raise _Ineligible
    signature = get_variable_signature(schema, definition)
    if isinstance(signature, GraphQLError):
        raise _Ineligible
    type_ = signature.type
    if not _leafy(type_):
        raise _Ineligible
    try:
        default = coerce_default_value(signature) if signature.default else Undefined
    except Exception:
        raise _Ineligible from None
    nested = isinstance(get_nullable_type(type_), GraphQLList)
    return _Variable(signature.name, signature, type_, isinstance(type_, GraphQLNonNull), nested, default)


def _leafy(type_: GraphQLInputType) -> bool:
    """A scalar or an enum, or lists of them: no input objects."""
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return isinstance(type_, GraphQLScalarType | GraphQLEnumType)


def _argument(name: str, definition: graphql.GraphQLArgument, node: FieldNode, declared: set[str]) -> _Argument:
    out_name = definition.out_name or name
    type_ = definition.type
    if not _leafy(type_):
        raise _Ineligible
    given = next((argument for argument in node.arguments or () if argument.name.value == name), None)
    if given is None:
        try:
            return out_name, None, coerce_default_value(definition)
        except Exception:
            raise _Ineligible from None
    if isinstance(given.value, VariableNode):
        variable = given.value.name.value
        if variable not in declared:
            raise _Ineligible
        return out_name, variable, Undefined
    if _has_variables(given.value):
        raise _Ineligible  # a list literal around a variable: graphql-core's coercion
    value = coerce_input_literal(given.value, type_)
    if value is Undefined:
        raise _Ineligible
    return out_name, None, value


def _has_variables(node: graphql.ValueNode) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, graphql.ListValueNode):
        return any(_has_variables(item) for item in node.values)
    return isinstance(node, graphql.ObjectValueNode)


def plan_operation(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> SingleFieldPlan | None:
    """The plan for the operation `operation_name` of a valid `document`, or None when it does not qualify."""
    operations = [definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)]
    if len(operations) != len(document.definitions) or len(operations) != 1:
        return None  # fragments, or several operations: graphql-core picks and checks
    operation = operations[0]
    if operation_name is not None and (operation.name is None or operation.name.value != operation_name):
        return None
    if operation.operation is OperationType.QUERY:
        parent_type = schema.query_type
    elif operation.operation is OperationType.MUTATION:
        parent_type = schema.mutation_type
    else:
        return None
    selections = operation.selection_set.selections
    if parent_type is None or operation.directives or len(selections) != 1:
        return None
    node = selections[0]
    if not isinstance(node, FieldNode) or node.name.value.startswith("__"):
        return None
    try:
        return SingleFieldPlan(schema, document, operation, parent_type, node)
    except _Ineligible:
        return None
