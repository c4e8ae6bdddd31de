"""Hostile and oversized requests against a production-mode service: each is
refused with a clear 4xx (or a GraphQL error), never a 500 or a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings
from tests.integration.test_authorization import ADMIN_KEY, secured  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


async def post_graphql(service: Service, body: object, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        return await client.post("/graphql", json=body, headers=ADMIN, **kwargs)  # type: ignore[arg-type]


def assert_refused(response: httpx.Response) -> list[str]:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert body.get("data") is None, body
    return [error["message"] for error in body["errors"]]


async def test_deep_nesting_is_refused(secured: Service) -> None:  # noqa: F811
    depth = 2000  # about 34 KB: under the body cap, so the parser is what must cope
    query = "{ rooms " + "{ participants " * depth + "{ identity }" + " }" * depth + " }"
    messages = assert_refused(await post_graphql(secured, {"query": query}))
    assert messages


async def test_depth_limit(secured: Service) -> None:  # noqa: F811
    # The secured service allows depth 2, counted from 0 at the top-level field.
    response = await post_graphql(secured, {"query": "{ rooms { participants { identity } } }"})
    assert response.status_code == 200
    assert "errors" not in response.json()
    messages = assert_refused(await post_graphql(secured, {"query": "{ rooms { participants { tracks { sid } } } }"}))
    assert any("exceeds maximum operation depth" in message for message in messages), messages


async def test_many_aliases_are_refused(secured: Service) -> None:  # noqa: F811
    query = "{ " + " ".join(f"a{i}: rooms {{ name }}" for i in range(500)) + " }"
    assert_refused(await post_graphql(secured, {"query": query}))
    query = "{ " + " ".join(f"a{i}: rooms {{ name }}" for i in range(40)) + " }"
    assert_refused(await post_graphql(secured, {"query": query}))


async def test_a_repeated_field_is_refused(secured: Service) -> None:  # noqa: F811
    query = "{ rooms { " + "name " * 5000 + "} }"
    assert_refused(await post_graphql(secured, {"query": query}))


async def test_batching_is_refused(secured: Service) -> None:  # noqa: F811
    response = await post_graphql(secured, [{"query": "{ rooms { name } }"}] * 3)
    assert response.status_code == 400
    # Strawberry's own plain-text refusals come in the envelope like every other error.
    assert response.json()["meta"]["code"] == 400


async def test_accept_headers_of_real_clients(secured: Service) -> None:  # noqa: F811
    query = {"query": "{ rooms { name } }"}
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        for accept in ("application/graphql-response+json, application/json", "application/json", "*/*"):
            response = await client.post("/graphql", json=query, headers={**ADMIN, "accept": accept})
            assert response.status_code == 200, (accept, response.text)
            # The GraphQL over HTTP media type for a client that prefers it (test_graphql_over_http).
            preferred = accept.split(",")[0] if accept.startswith("application/") else "application/json"
            assert response.headers["content-type"] == preferred
            assert "rooms" in response.json()["data"], response.text
        # A streaming Accept goes to Strawberry's own handling: a query is still answered, never a 500.
        streaming = {**ADMIN, "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json'}
        response = await client.post("/graphql", json=query, headers=streaming)
        assert response.status_code < 500, response.text
        assert "Traceback" not in response.text


async def test_mutation_over_get_and_non_json_posts_are_refused(secured: Service) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        query = 'mutation { createRoom(name: "via-get") { name } }'
        response = await client.get("/graphql", params={"query": query}, headers=ADMIN)
        assert 400 <= response.status_code < 500
        assert response.json()["meta"]["code"] == response.status_code
        # Form and plain-text posts are what a cross-site form can send without a preflight.
        for content_type, body in [
            ("application/x-www-form-urlencoded", f"query={query}"),
            ("text/plain", f'{{"query": "{query}"}}'),
            (
                "multipart/form-data; boundary=x",
                f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{query}\r\n--x--',
            ),
        ]:
            response = await client.post(
                "/graphql", content=body.encode(), headers={**ADMIN, "content-type": content_type}
            )
            assert 400 <= response.status_code < 500, (content_type, response.status_code, response.text)
            assert response.json()["meta"]["code"] == response.status_code
        rooms = (await client.get("/api/v1/room/", headers=ADMIN)).json()["data"]["rooms"]
        assert "via-get" not in {room["name"] for room in rooms}


async def test_introspection_and_suggestions_are_off_in_production(secured: Service) -> None:  # noqa: F811
    messages = assert_refused(await post_graphql(secured, {"query": "{ __schema { types { name } } }"}))
    assert any("introspection" in message.lower() for message in messages)
    response = await post_graphql(secured, {"query": "{ roms { name } }"})
    assert "Did you mean" not in response.text
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert (await client.get("/docs")).status_code == 404


async def test_oversized_bodies_are_413_before_parsing(secured: Service) -> None:  # noqa: F811
    big = "x" * (64 * 1024 + 1)
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=30) as client:
        response = await client.post("/graphql", json={"query": "{ rooms { name } }", "pad": big}, headers=ADMIN)
        assert response.status_code == 413
        assert response.json()["meta"]["code"] == 413
        response = await client.post("/api/v1/room/token", data={"uid": "u", "room": "r", "pad": big}, headers=ADMIN)
        assert response.status_code == 413
        assert response.json()["meta"] == {
            "code": 413,
            "message": "请求体过大,不能超过 65536 字节",
            "error": "payload too large",
        }

        # A body that does not declare its length is cut off as it streams.
        async def stream() -> object:
            for _ in range(100):
                yield b"a" * 4096

        response = await client.post(
            "/api/v1/room/token",
            content=stream(),  # type: ignore[arg-type]
            headers={**ADMIN, "content-type": "application/x-www-form-urlencoded", "accept-language": "en"},
        )
        assert response.status_code == 413
        assert response.json()["meta"]["message"] == "the request body is over the limit of 65536 bytes"


@pytest.fixture(scope="module")
def cors_service(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server,
        GXRTC_ENV="production",
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        GXRTC_CORS_ORIGINS='["https://app.example"]',
    )
    with run_service(settings) as service:
        yield service


async def test_cors_allows_only_configured_origins(cors_service: Service, secured: Service) -> None:  # noqa: F811
    preflight = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    async with httpx.AsyncClient(base_url=cors_service.base_url, timeout=15) as client:
        response = await client.options("/graphql", headers=preflight)
        assert response.headers.get("access-control-allow-origin") == "https://app.example"
        response = await client.options("/graphql", headers={**preflight, "origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
    # Production with no origins configured allows none.
    async with httpx.AsyncClient(base_url=secured.base_url, timeout=15) as client:
        response = await client.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({}, "no authentication"),
        ({"GXRTC_ADMIN_KEY": ADMIN_KEY, "LIVEKIT_API_SECRET": "short-secret"}, "shorter than 32"),
        (
            {"GXRTC_ADMIN_KEY": ADMIN_KEY, "GXRTC_CORS_ORIGINS": '["*"]', "GXRTC_CORS_ALLOW_CREDENTIALS": "true"},
            "any origin together with credentials",
        ),
    ],
)
def test_production_refuses_to_start_insecure(
    livekit_server: LiveKitServer, overrides: dict[str, str], problem: str
) -> None:
    settings = service_settings(livekit_server, GXRTC_ENV="production", **overrides)
    with pytest.raises(RuntimeError) as refused, run_service(settings, startup_timeout=20):
        pass
    assert problem in str(refused.value)
