"""/graphql's plain JSON POSTs: GraphQL over HTTP's media type and status codes, on a short path.

Strawberry's view runs every request through its general machinery (content
negotiation with the email package, a sub-response, protocol checks, batching
and streaming hooks). A GraphQL client's ordinary request, a POST of
`application/json`, takes this path instead: decode, build the context,
execute, encode. Everything else (GraphiQL, GET, other content types,
batches, streaming, WebSockets) is Strawberry's.

Not one of the speed-ups (`graphql_api._speedups`), though it began as one:
it also answers `application/graphql-response+json` with the spec's status
codes, and authenticates a graphql-sse subscription before its stream starts,
which Strawberry's view does not do, so it stays on with `GXRTC_SPEEDUPS=off`
(tests/integration/test_graphql_over_http.py fails on Strawberry's view alone).
"""

from __future__ import annotations

from typing import Any, Protocol

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from .graphql_http import GRAPHQL_RESPONSE_JSON, accepts_event_stream, is_request_error, media_type

__all__ = ["answer_json_post"]

_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class JsonView(Protocol):
    """What the short path needs of the service's view (`graphql_api.schema.view.GraphQLView`)."""

    schema: BaseSchema

    def parse_json(self, data: str | bytes) -> Any: ...

    def encode_json(self, data: object) -> bytes: ...

    async def run(self, request: Request) -> Response: ...

    async def get_context(self, request: Request, response: None) -> Any: ...


async def answer_json_post(view: JsonView, request: Request) -> Response:
    """The answer to a POST of `application/json`; anything but one operation is handed to `view.run`."""
    data = view.parse_json(await request.body())
    if not isinstance(data, dict):
        # A batch or a bare value: Strawberry's own checks refuse them with their usual messages.
        return await view.run(request)
    query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
    if not isinstance(query, str | None):
        raise HTTPException(400, "The GraphQL operation's `query` must be a string or null, if provided.")
    if not isinstance(variables, dict | None):
        raise HTTPException(400, "The GraphQL operation's `variables` must be an object or null, if provided.")
    if not isinstance(extensions, dict | None):
        raise HTTPException(400, "The GraphQL operation's `extensions` must be an object or null, if provided.")
    context = await view.get_context(request, response=None)
    try:
        result = await view.schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            operation_name=data.get("operationName"),
            allowed_operation_types=_POST_OPERATIONS,
            operation_extensions=extensions,
        )
    except CannotGetOperationTypeError as exc:
        raise HTTPException(400, exc.as_http_error_reason()) from exc
    except InvalidOperationTypeError as exc:
        accept = request.headers.get("accept")
        if exc.operation_type == OperationType.SUBSCRIPTION and accepts_event_stream(accept):
            # graphql-sse: authenticated before the stream starts, so a bad credential is a 401.
            await context.principal()
            return await view.run(request)
        raise HTTPException(400, exc.as_http_error_reason("POST")) from exc
    except MissingQueryError as exc:
        raise HTTPException(400, "No GraphQL query found in the request") from exc
    answer_type = media_type(request.headers.get("accept"))
    body = process_result(result)
    status = 200
    if answer_type == GRAPHQL_RESPONSE_JSON and is_request_error(result):
        status = 400  # the GraphQL over HTTP spec: a request that did not run has no data entry
        body.pop("data", None)
    return Response(view.encode_json(body), status_code=status, media_type=answer_type)
