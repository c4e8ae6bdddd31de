"""Our resolvers called straight from graphql-core, in place of Strawberry's resolver wrapper.

For every field, Strawberry's resolver wrapper converts each argument through
its generic input machinery, builds an extension chain and a partial, and
only then calls the function. For a field whose arguments are all scalars,
enums or lists of them (which graphql-core has already coerced to their final
values) and that has no field extensions, the conversion is the identity, so
graphql-core calls the resolver made here instead: rename the arguments, add
`info`, call. Fields with input objects (or anything else) keep Strawberry's
wrapper.

Proven equal by tests/unit/speedups/test_one_field.py (a schema with and one
without direct resolvers, the same answers) and tests/unit/speedups/test_direct_resolvers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphql
import strawberry
from strawberry.schema.name_converter import NameConverter

__all__ = ["call_resolvers_directly"]


def call_resolvers_directly(schema: strawberry.Schema) -> None:
    """Replace Strawberry's wrapper by a direct call on every field where it adds nothing."""
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
