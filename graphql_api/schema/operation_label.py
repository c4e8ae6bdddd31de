"""A GraphQL operation's name for metrics and the access log, from a bounded set.

Its kind and its root field, as the schema names it ("mutation createToken",
"query rooms"): aliases and operation names are the caller's and unbounded, so
they never appear. Anything else is one of three fixed labels, so the number
of series stays what the schema makes it.
"""

from __future__ import annotations

import graphql

__all__ = ["INVALID", "SEVERAL", "operation_label"]

INVALID = "(invalid)"
"""A document that does not parse, does not validate, or has no operation by that name."""
SEVERAL = "(several fields)"


def operation_label(
    document: graphql.DocumentNode, errors: list[graphql.GraphQLError], operation_name: str | None
) -> str:
    if errors:
        return INVALID
    operations = [node for node in document.definitions if isinstance(node, graphql.OperationDefinitionNode)]
    if operation_name is not None:
        operations = [node for node in operations if node.name is not None and node.name.value == operation_name]
    if len(operations) != 1:
        return INVALID
    operation = operations[0]
    kind = operation.operation.value
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], graphql.FieldNode):
        return f"{kind} {SEVERAL}"
    return f"{kind} {selections[0].name.value}"
