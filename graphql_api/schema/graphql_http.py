"""GraphQL over HTTP: which media type an answer has, with which status, and which requests stream.

The GraphQL over HTTP spec's media type, `application/graphql-response+json`, is what urql and
graphql-http's client ask for first. With it, the status says whether the operation ran: 4xx for a
request that failed before execution (it did not parse, validate, or its variables did not coerce),
200 once execution ran, whatever field errors it had. A client that does not prefer it gets
`application/json` and 200, as before the spec (its "legacy" mode).

Subscriptions also go over Server-Sent Events (the graphql-sse protocol's distinct connections
mode): a POST whose Accept names `text/event-stream` and whose operation is a subscription. Only a
subscription streams, since clients such as urql name `text/event-stream` in every request's Accept.
"""

from __future__ import annotations

from typing import Final

from strawberry.types import ExecutionResult

__all__ = ["APPLICATION_JSON", "GRAPHQL_RESPONSE_JSON", "accepts_event_stream", "is_request_error", "media_type"]

APPLICATION_JSON: Final = "application/json"
GRAPHQL_RESPONSE_JSON: Final = "application/graphql-response+json"
EVENT_STREAM: Final = "text/event-stream"


def _preferences(accept: str) -> dict[str, float]:
    """Each media range of an Accept header with its q (1 when not given; 0 for a malformed q)."""
    preferences: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        media = media.lower()
        preferences[media] = max(q, preferences.get(media, 0.0))
    return preferences


def _quality(preferences: dict[str, float], media: str) -> float:
    # The most specific range that matches decides (RFC 9110, 12.5.1).
    kind = media.partition("/")[0]
    for candidate in (media, f"{kind}/*", "*/*"):
        if candidate in preferences:
            return preferences[candidate]
    return 0.0


def media_type(accept: str | None) -> str:
    """`application/graphql-response+json` when Accept prefers it at least as much as `application/json`."""
    if not accept or GRAPHQL_RESPONSE_JSON not in accept.lower():
        return APPLICATION_JSON
    preferences = _preferences(accept)
    graphql_response = _quality(preferences, GRAPHQL_RESPONSE_JSON)
    if graphql_response > 0 and graphql_response >= _quality(preferences, APPLICATION_JSON):
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


def accepts_event_stream(accept: str | None) -> bool:
    if not accept or EVENT_STREAM not in accept.lower():
        return False
    return _preferences(accept).get(EVENT_STREAM, 0.0) > 0


def is_request_error(result: ExecutionResult) -> bool:
    """Whether the operation failed before it ran: no data, and no error that a field raised (those have a path)."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())
