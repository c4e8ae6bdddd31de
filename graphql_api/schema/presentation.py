"""How a GraphQL error reaches a client: ours with their code, the caller's mistakes as
BAD_USER_INPUT, anything else masked; and in production, nothing that maps the schema.

graphql-core words its own errors about the request well, but two of its
habits do not suit a public service. It suggests names ("Did you mean
'names'?") for fields, arguments, types, enum values and input fields, in
validation and again while coercing variables, which maps the schema for anyone
while introspection is off. And it hands a variable that does not coerce (a
string for an Int, 2^40 for an Int, an unknown input field) to the caller as an
error whose original error is its own GraphQLError, which would otherwise look
like a bug of ours and be masked as INTERNAL_SERVER_ERROR. Every path that
shows an error (the lean executor, the one-field plans, subscriptions) comes
through here, so all of them answer alike.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, ValueNode

from ..errors import GxrtcError
from ..i18n import Language, localize

__all__ = ["present", "without_suggestions"]

log = logging.getLogger(__name__)

_SUGGESTION = " Did you mean "
"""How graphql-core's `did_you_mean` starts; what it suggests always ends the message."""

_BAD_INPUT = {"code": "BAD_USER_INPUT"}


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """`error` with graphql-core's name suggestions cut off (in place)."""
    cut = error.message.find(_SUGGESTION)
    if cut >= 0:
        error.message = error.message[:cut]
    return error


def present(error: GraphQLError, language: Language, *, suggestions: bool) -> GraphQLError:
    """What the client is shown for `error`; presenting an error twice changes nothing more."""
    original = error.original_error
    extensions: dict[str, Any] | None
    if isinstance(original, GxrtcError):
        message = localize(original, language, {})
        extensions = original.extensions
    elif _about_input(error):
        message, extensions, original = error.message, _BAD_INPUT, None
    elif original is None:
        return error if suggestions else without_suggestions(error)
    else:
        log.error("unexpected error in GraphQL resolver %s", error.path, exc_info=original)
        message, extensions, original = "Unexpected error.", {"code": "INTERNAL_SERVER_ERROR"}, None
    presented = GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )
    return presented if suggestions else without_suggestions(presented)


def _about_input(error: GraphQLError) -> bool:
    """Whether graphql-core refused the request's input while executing it.

    Either way graphql-core's own GraphQLError is the original error (validation
    errors, shown as they are, have none). Variables are coerced before any
    field runs, so their errors have no path. An argument refused at run time (a
    variable with a default, sent as null to a non-null argument) is located at
    the value it refused; what a field returned is never such a node.
    """
    original = error.original_error
    if not isinstance(original, GraphQLError):
        return False
    if error.path is None:
        return True
    return original.original_error is None and any(isinstance(node, ValueNode) for node in original.nodes or ())
