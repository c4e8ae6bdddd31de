"""Every import of a dependency's private or version-sensitive internals, in one place.

The speed-ups (and the few features that must hook into a library's
machinery: the WebSocket handlers, the HTTP protocol's limits) lean on names
that their libraries do not promise to keep. They import those names from
here, never from the libraries themselves, so that an upgrade of one of the
pinned versions below has one file to check against the new release:

- graphql-core 3.3.2 (executor internals, variable and argument coercion)
- strawberry-graphql 0.341.2 (schema converter, its execute helpers, WebSocket handlers)
- uvicorn 0.54.0 (the httptools protocol, its trusted-proxy matcher)

Three are reached through attributes, not imports:

- livekit-api 1.2.2: `Service._auth_header(grants, sip)` (see `livekit_headers`).
- aiosqlite 0.22.1: `Connection._execute(function)`, which runs `function` in the
  connection's thread, and `Connection._conn`, the sqlite3 connection there (see
  `plain_insert._in_sqlite_thread`). Not imported from here because the store, in
  the core, uses `plain_insert`, and this module imports graphql-core, Strawberry
  and uvicorn, which the core must not (`make lint`'s import contracts).
- prometheus-client 0.26.0: a histogram's `_upper_bounds` and its children's
  `_buckets` and `_sum` (see `request_tally`, which adds many observations at
  once where the public `observe` takes one). Not imported from here because
  REST compat records its requests through it and must not import Strawberry.
"""

from __future__ import annotations

from graphql.execution.collect_fields import DeferUsage, FieldDetails, FieldDetailsList, GroupedFieldSet
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap, IncrementalExecutor
from graphql.execution.values import VariableValues, VariableValueSource, input_is_nested_too_deeply
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from graphql.pyutils import is_awaitable as isawaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from graphql.utilities.coerce_input_value import coerce_default_value, coerce_input_literal, coerce_input_value
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, validate_document
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyInitMessage
from strawberry.utils.operation import get_operation_type
from uvicorn.middleware.proxy_headers import _TrustedHosts as TrustedHosts
from uvicorn.protocols.http import httptools_impl

__all__ = [
    "DEFAULT_ALLOWED_OPERATION_TYPES",
    "AwaitableOrValue",
    "BaseGraphQLTransportWSHandler",
    "BaseGraphQLWSHandler",
    "ConnectionInitMessage",
    "DeferUsage",
    "DeliveryGroupMap",
    "FieldDetails",
    "FieldDetailsList",
    "GraphQLCoreConverter",
    "GraphQLResolveInfoHelpers",
    "GraphQLVariableSignature",
    "GroupedFieldSet",
    "IncrementalExecutor",
    "LegacyInitMessage",
    "Path",
    "TrustedHosts",
    "VariableValueSource",
    "VariableValues",
    "coerce_default_value",
    "coerce_input_literal",
    "coerce_input_value",
    "gather_with_cancel",
    "get_operation_type",
    "get_variable_signature",
    "httptools_impl",
    "input_is_nested_too_deeply",
    "isawaitable",
    "optimized_is_awaitable",
    "validate_document",
]
