"""The GraphQL face: Query (`queries`), Mutation (`mutations`, one class per noun) and Subscription
(`subscriptions`) over the core's operations (`graphql_api.core`), assembled in `build`."""

from __future__ import annotations

from .build import GxrtcSchema, _Checks, build_schema, schema
from .mutations import Mutation
from .queries import Query
from .subscriptions import Subscription

__all__ = ["GxrtcSchema", "Mutation", "Query", "Subscription", "_Checks", "build_schema", "schema"]
