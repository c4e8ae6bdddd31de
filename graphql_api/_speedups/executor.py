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

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)

from ._internals import (
    AwaitableOrValue,
    DeferUsage,
    DeliveryGroupMap,
    FieldDetailsList,
    GraphQLCoreConverter,
    GroupedFieldSet,
    IncrementalExecutor,
    Path,
)

__all__ = ["Collector", "LeafFastExecutor", "Plan", "complete", "make_step", "prefetched"]

_LEAF, _LEAVES, _OBJECT, _LIST = "leaf", "leaves", "object", "list"
# (response name, read the value from the source, kind, coerce a leaf or the plan of an object or of a list's
# items, non-null, items non-null, read is a resolver's `prefetched` reader: None means "not at hand")
_Step = tuple[str, Callable[[Any], Any], str, Any, bool, bool, bool]
Plan = tuple[_Step, ...]
_F = TypeVar("_F", bound=Callable[..., Any])

_NO_PLAN: Plan = ()


class Collector(Protocol):
    """What a plan is made with: graphql-core's executor, or a collector of fragment-free selections."""

    schema: GraphQLSchema

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> tuple[GroupedFieldSet, Sequence[DeferUsage], Any]: ...


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
                completed = complete(plan, source_value)
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
            result = complete(plan, item)
            if result is None:
                return None
            completed.append(result)
        return completed

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        # Per request, like graphql-core's own memo of collected fields, whose
        # grouped field sets live as long as the request.
        plans: dict[int, tuple[GroupedFieldSet, Plan]] = self.__dict__.setdefault("_leaf_plans", {})
        key = id(grouped_field_set)
        cached = plans.get(key)
        if cached is None:
            cached = plans[key] = (grouped_field_set, _make_plan(self, parent_type, grouped_field_set))
        return cached[1]


def prefetched(read: Callable[[Any], Any]) -> Callable[[_F], _F]:
    """Mark a resolver whose value `read(source)` can give without calling it, when at hand.

    `read` returns the value, or None when only the resolver can tell (it is then called as usual).
    """

    def mark(function: _F) -> _F:
        function._gxrtc_prefetched = read  # type: ignore[attr-defined]
        return function

    return mark


def _make_plan(executor: Collector, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> Plan:
    plan: list[_Step] = []
    for response_name, field_details_list in fields.items():
        node = field_details_list[0].node
        if node.arguments:
            return _NO_PLAN
        if node.name.value == "__typename":
            # Apollo Client asks for it on every object; on an object type it is the type's name.
            plan.append((response_name, _constant(parent_type.name), _LEAF, _same, True, False, False))
            continue
        field_def = executor.schema.get_field(parent_type, node.name.value)
        if field_def is None or field_def.args or field_def.resolve is None:
            return _NO_PLAN
        definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None or definition.extensions:
            return _NO_PLAN
        prefetch = definition.base_resolver is not None or not getattr(field_def.resolve, "_is_default", False)
        if not prefetch:
            # Strawberry's resolver for a field without resolver or extensions reads the attribute.
            read: Callable[[Any], Any] = operator.attrgetter(definition.python_name)
        else:
            marked = getattr(getattr(definition.base_resolver, "wrapped_func", None), "_gxrtc_prefetched", None)
            if marked is None:
                return _NO_PLAN
            read = marked
        step = make_step(executor, response_name, read, prefetch, field_def.type, field_details_list)
        if step is None:
            return _NO_PLAN
        plan.append(step)
    return tuple(plan)


def make_step(
    executor: Collector,
    response_name: str,
    read: Callable[[Any], Any],
    prefetch: bool,
    type_: GraphQLOutputType,
    field_details_list: FieldDetailsList,
) -> _Step | None:
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return (response_name, read, _LEAF, inner.coerce_output_value, non_null, False, prefetch)
    is_list = isinstance(inner, GraphQLList)
    item = inner.of_type if isinstance(inner, GraphQLList) else inner
    item_non_null = isinstance(item, GraphQLNonNull)
    item = item.of_type if isinstance(item, GraphQLNonNull) else item
    if is_list and any(
        directive.name.value == "stream"
        for details in field_details_list
        for directive in details.node.directives or ()
    ):
        return None
    if is_list and isinstance(item, GraphQLScalarType | GraphQLEnumType):
        return (response_name, read, _LEAVES, item.coerce_output_value, non_null, item_non_null, prefetch)
    if not isinstance(item, GraphQLObjectType) or item.is_type_of:
        return None
    grouped_field_set, new_defer_usages, _ = executor.collect_subfields(item, field_details_list)
    if new_defer_usages:
        return None
    sub_plan = _make_plan(executor, item, grouped_field_set)
    if not sub_plan:
        return None
    return (response_name, read, _LIST if is_list else _OBJECT, sub_plan, non_null, item_non_null, prefetch)


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _source: value


def _same(value: Any) -> Any:
    return value


def complete(plan: Plan, source: Any) -> dict[str, Any] | None:
    """The object's result, or None when any field needs graphql-core's own handling."""
    result: dict[str, Any] = {}
    try:
        for response_name, read, kind, how, non_null, item_non_null, prefetch in plan:
            value = read(source)
            if value is None:
                if non_null or prefetch:
                    return None
                result[response_name] = None
                continue
            if kind is _LEAF:
                if isinstance(value, Exception):
                    return None
                coerced = how(value)
                if coerced is None or coerced is Undefined:
                    return None
                result[response_name] = coerced
            elif kind is _LEAVES:
                if not isinstance(value, list | tuple):
                    return None
                leaves: list[Any] = []
                for item in value:
                    if item is None:
                        if item_non_null:
                            return None
                        leaves.append(None)
                        continue
                    if isinstance(item, Exception):
                        return None
                    coerced = how(item)
                    if coerced is None or coerced is Undefined:
                        return None
                    leaves.append(coerced)
                result[response_name] = leaves
            elif kind is _OBJECT:
                completed = complete(how, value)
                if completed is None:
                    return None
                result[response_name] = completed
            else:
                if not isinstance(value, list | tuple):
                    return None
                items: list[Any] = []
                for item in value:
                    if item is None:
                        if item_non_null:
                            return None
                        items.append(None)
                        continue
                    completed = complete(how, item)
                    if completed is None:
                        return None
                    items.append(completed)
                result[response_name] = items
    except Exception:  # graphql-core reports it, with its path, when it runs the object itself
        return None
    return result
