"""The dev GraphiQL page loads nothing from off the service, and what it loads is what its hashes name.

Strawberry's page names each script and style with a Subresource Integrity hash;
the service serves copies (`make setup` fetches them from the npm registry into
the cache). Every asset the served page asks for must come from the service,
with exactly the bytes the page's hash names. A missing asset fails here: `make
test` runs `make setup` first, and CI must not pass without them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import httpx
from pydantic import SecretStr
from strawberry.http.ides import get_graphql_ide_html

from graphql_api.app import create_app
from graphql_api.server.graphiql import CDN_ASSET, PREFIX, local_page, matches_integrity
from graphql_api.settings import Settings

# src="..." or href="..." followed by integrity="...", as in Strawberry's page.
LOADED = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="([^"]+)"')
ADDRESS = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def app(env: Literal["dev", "production"]) -> Any:
    return create_app(
        Settings(
            livekit_url="http://127.0.0.1:9",
            livekit_api_key="key",
            livekit_api_secret=SecretStr("s" * 32),
            admin_key=SecretStr("graphiql-admin-key-0123456789abcdefghijkl"),
            env=env,
        )
    )


async def get(env: Literal["dev", "production"], url: str, **headers: str) -> httpx.Response:
    service = app(env)
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(url, headers=headers)


async def test_every_asset_of_the_page_comes_from_the_service_with_its_hash() -> None:
    page = await get("dev", "/graphql", accept="text/html")
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    loaded = LOADED.findall(page.text)
    assert len(loaded) == len(CDN_ASSET.findall(get_graphql_ide_html(graphql_ide="graphiql"))) > 0
    for url, integrity in loaded:
        assert url.startswith(PREFIX + "/"), url
        asset = await get("dev", url)
        assert asset.status_code == 200, f"{url}: {asset.status_code}; run `make setup`"
        assert matches_integrity(asset.content, integrity), url
    # Nothing else the page could load lives elsewhere (data: URIs excepted).
    for address in ADDRESS.findall(page.text):
        assert address.startswith(PREFIX + "/") or address.startswith("data:"), address
    assert "unpkg.com" not in page.text


def test_the_rewrite_keeps_everything_but_the_host() -> None:
    original = get_graphql_ide_html(graphql_ide="graphiql")
    rewritten = local_page(original)
    assert rewritten.replace(PREFIX + "/", "https://unpkg.com/") == original


def test_integrity_is_checked_on_every_byte() -> None:
    data = b"console.log('hi')"
    good = "sha384-" + __import__("base64").b64encode(__import__("hashlib").sha384(data).digest()).decode()
    assert matches_integrity(data, good)
    assert not matches_integrity(data + b" ", good)
    assert not matches_integrity(data, "md5-" + good.partition("-")[2])


async def test_production_serves_no_graphiql_assets() -> None:
    page = await get("production", "/graphql", accept="text/html")
    assert page.status_code != 200 or "graphiql" not in page.text.lower()
    assert (await get("production", PREFIX + "/react@18.2.0/umd/react.production.min.js")).status_code == 404
