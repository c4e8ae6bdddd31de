"""Which media type an answer gets, and which Accept asks for an event stream."""

from __future__ import annotations

import pytest

from graphql_api.schema.graphql_http import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, accepts_event_stream, media_type


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        ("", APPLICATION_JSON),
        ("*/*", APPLICATION_JSON),
        ("application/json", APPLICATION_JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),  # equal: the spec's own
        (f"application/json;q=0.9, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.8", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=nonsense", APPLICATION_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, application/*", APPLICATION_JSON),
    ],
)
def test_media_type_follows_the_clients_preference(accept: str | None, expected: str) -> None:
    assert media_type(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("*/*", False),
        ("text/event-stream", True),
        ("application/json, text/event-stream", True),
        ("text/event-stream;q=0", False),
        ("text/event-streams", False),
    ],
)
def test_an_event_stream_is_asked_for_by_name(accept: str | None, expected: bool) -> None:
    assert accepts_event_stream(accept) is expected
