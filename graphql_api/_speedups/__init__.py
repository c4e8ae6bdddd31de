"""Code that replaces a dependency's own code path, fenced here, with one switch to turn it all off.

Each module says what it replaces and which differential test proves the two
paths give the same answers:

- `executor`: graphql-core's completion of objects whose selected fields are
  plain leaves. Proven equal by tests/unit/speedups/test_executor.py.
- `one_field`: graphql-core's execution of a one-root-field operation with
  plain arguments. tests/unit/speedups/test_one_field.py.
- `lean_execute`: Strawberry's `Schema.execute` for queries and mutations.
  tests/unit/speedups/test_lean_execute.py.
- `direct_resolvers`: Strawberry's resolver wrapper, for fields with leaf
  arguments. tests/unit/speedups/test_one_field.py, tests/unit/speedups/test_direct_resolvers.py.
- `names`: Strawberry's camelCase conversion of argument names on every call.
  tests/unit/speedups/test_lean_execute.py.
- `exact_routes`: Starlette's and FastAPI's routing layers, for exact
  (method, path) routes. tests/unit/speedups/test_exact_routes.py.
- `head_with_body`: uvicorn's two writes (head, then body) per response.
  tests/unit/speedups/test_http_protocol.py.
- `livekit_headers`: livekit-api's signing of a fresh admin JWT for every
  call. tests/unit/speedups/test_livekit_headers.py.
- `plain_insert`: SQLAlchemy Core's `insert(table)` execution in the store's
  group commit (the audit trail's rows): one precompiled statement, plain
  tuples; and (`commit_rows`) SQLAlchemy's transaction around it: on SQLite
  the inserts and the commit in one round trip to aiosqlite's thread.
  tests/unit/speedups/test_plain_insert.py (SQLite) and
  tests/integration/test_store.py (PostgreSQL).
- `request_tally`: prometheus-client's calls per request for the request
  metrics (a counter, a histogram, a gauge); counted in plain numbers and
  added at each scrape. tests/unit/speedups/test_request_tally.py.

Every private import they (and the few features that hook into a library's
machinery) need is in `_internals`, with the pinned versions it was checked
against.

Not here, though they began as speed-ups: `graphql_api.schema.json_post` (it carries
GraphQL over HTTP's media type and status codes, which Strawberry's view
lacks), the join-token minter (`TokenMinter`: our own signing, no library
path replaced) and the lazy conversion of LiveKit messages in `types` (our
own types).

`GXRTC_SPEEDUPS=off` (read from the environment, because uvicorn builds the
HTTP protocol in each worker, where no settings object reaches) runs the
libraries' own paths instead: graphql-core's executor, Strawberry's execute,
resolver wrapper and view, Starlette's router, uvicorn's writes, livekit-api's
signing, SQLAlchemy's insert and transaction, prometheus-client's calls per
request. The test suite passes both ways (`make test` runs the integration
tests a second time with it off).
"""

from __future__ import annotations

import os

__all__ = ["SPEEDUPS_VARIABLE", "enabled"]

SPEEDUPS_VARIABLE = "GXRTC_SPEEDUPS"


def enabled() -> bool:
    """Whether the speed-ups are on: `GXRTC_SPEEDUPS` is `on` (the default) or `off`."""
    value = os.environ.get(SPEEDUPS_VARIABLE, "on").strip().lower() or "on"
    if value not in ("on", "off"):
        raise ValueError(f"{SPEEDUPS_VARIABLE} must be 'on' or 'off', not {value!r}")
    return value == "on"
