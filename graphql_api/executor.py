"""graphql-core's executor, with a short path for objects whose selected fields are all plain leaves.

`rooms { participants { identity name } }` completes hundreds of participant
objects, and graphql-core spends on every one of their fields a resolve-info
tuple, a path, a resolver call through Strawberry and a completion step: most
of the query's time. When every field selected on an object is a scalar or an
enum read straight from an attribute (Strawberry's basic fields: no resolver,
no arguments, no extensions), this executor builds the object's result
directly: the same attribute reads, the same output coercion, the same order.

Anything unusual falls back to graphql-core for the whole object, so errors,
nulls in non-null fields, `@defer` and everything else keep their standard
handling and messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap, IncrementalExecutor
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema_converter import GraphQLCoreConverter

__all__ = ["LeafFastExecutor"]

# (response name, attribute, coerce for output, non-null)
_Plan = tuple[tuple[str, str, Callable[[Any], Any], bool], ...]

_NO_PLAN: _Plan = ()


class LeafFastExecutor(IncrementalExecutor):
    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
        delivery_group_map: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if delivery_group_map is None and not new_defer_usages and not self.middleware_manager:
            plan = self._plan(parent_type, grouped_field_set)
            if plan:
                completed = _complete(plan, source_value)
                if completed is not None:
                    return completed
        return super().execute_collected_subfields(
            parent_type, source_value, path, grouped_field_set, new_defer_usages, delivery_group_map
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[list[Any]]:
        # A list of such objects is completed in one loop, without graphql-core's
        # per-item path, completion and awaitable bookkeeping.
        if position_context is None and isinstance(items, list | tuple):
            completed = self._leaf_objects(item_type, field_details_list, path, items)
            if completed is not None:
                return completed
        return super().complete_iterable_value(item_type, field_details_list, info, path, items, position_context)

    def _leaf_objects(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList, path: Path, items: Sequence[Any]
    ) -> list[Any] | None:
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of or self.middleware_manager:
            return None
        if self.get_stream_usage(field_details_list, path) is not None:
            return None
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        plan = self._plan(object_type, grouped_field_set)
        if not plan:
            return None
        completed: list[Any] = []
        for item in items:
            if item is None:
                if non_null:
                    return None
                completed.append(None)
                continue
            result = _complete(plan, item)
            if result is None:
                return None
            completed.append(result)
        return completed

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Plan:
        # Per request, like graphql-core's own memo of collected fields, whose
        # grouped field sets live as long as the request.
        plans: dict[int, tuple[GroupedFieldSet, _Plan]] = self.__dict__.setdefault("_leaf_plans", {})
        key = id(grouped_field_set)
        cached = plans.get(key)
        if cached is None:
            cached = plans[key] = (grouped_field_set, _make_plan(self, parent_type, grouped_field_set))
        return cached[1]


def _make_plan(executor: IncrementalExecutor, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> _Plan:
    plan = []
    for response_name, field_details_list in fields.items():
        node = field_details_list[0].node
        if node.arguments:
            return _NO_PLAN
        field_def = executor.schema.get_field(parent_type, node.name.value)
        if field_def is None or field_def.args:
            return _NO_PLAN
        resolve = field_def.resolve
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        # Strawberry's resolver for a field without resolver or extensions reads the attribute.
        if resolve is None or not getattr(resolve, "_is_default", False) or definition is None:
            return _NO_PLAN
        if definition.base_resolver is not None or definition.extensions:
            return _NO_PLAN
        type_ = field_def.type
        non_null = isinstance(type_, GraphQLNonNull)
        leaf = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
            return _NO_PLAN
        plan.append((response_name, definition.python_name, leaf.coerce_output_value, non_null))
    return tuple(plan)


def _complete(plan: _Plan, source: Any) -> dict[str, Any] | None:
    """The object's result, or None when any field needs graphql-core's own handling."""
    result: dict[str, Any] = {}
    try:
        for response_name, attribute, coerce, non_null in plan:
            value = getattr(source, attribute)
            if value is None:
                if non_null:
                    return None
                result[response_name] = None
                continue
            if isinstance(value, Exception):
                return None
            coerced = coerce(value)
            if coerced is None or coerced is Undefined:
                return None
            result[response_name] = coerced
    except Exception:  # graphql-core reports it, with its path, when it runs the object itself
        return None
    return result
