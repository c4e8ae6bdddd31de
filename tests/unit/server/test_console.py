"""`/console`: the built files under a strict Content-Security-Policy, the page for the app's own
paths, nothing outside the build, a clear word when nothing is built, off in production unless asked.
Uses a small built tree in a temporary directory, so it runs without Node."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from graphql_api.app import create_app
from graphql_api.server.console import content_security_policy
from graphql_api.settings import Settings


@pytest.fixture
def built(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script type="module" src="/console/assets/app-1.js"></script>')
    (dist / "assets" / "app-1.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


def app(env: Literal["dev", "production"], directory: Path, **overrides: Any) -> Any:
    return create_app(
        Settings(
            livekit_url="http://127.0.0.1:9",
            livekit_api_key="key",
            livekit_api_secret=SecretStr("s" * 32),
            admin_key=SecretStr("console-admin-key-0123456789abcdefghijkl"),
            env=env,
            console_dir=directory,
            **overrides,
        )
    )


async def get(service: Any, url: str) -> httpx.Response:
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
            return await client.get(url)


def test_the_policy_allows_this_origin_only() -> None:
    policy = content_security_policy("127.0.0.1:8080")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no other host
    assert directives["connect-src"] == "'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    # A Host header that is not a host names nothing in the policy.
    assert content_security_policy('evil.example; script-src *"').count("evil") == 0
    assert "connect-src 'self';" in content_security_policy(None)


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/rooms/thehome"])
async def test_the_page_and_the_app_paths_get_the_page_with_the_policy(built: Path, path: str) -> None:
    response = await get(app("dev", built), path)
    assert response.status_code == 200
    assert "/console/assets/app-1.js" in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == content_security_policy("127.0.0.1:8080")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_assets_are_served_and_nothing_outside_the_build(built: Path) -> None:
    service = app("dev", built)
    asset = await get(service, "/console/assets/app-1.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('app')"
    assert "immutable" in asset.headers["cache-control"]
    assert (await get(service, "/console/assets/missing.js")).status_code == 404
    for escape in ("/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/..%2fsecret.txt"):
        response = await get(service, escape)
        assert "outside the build" not in response.text, escape


async def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    response = await get(app("dev", tmp_path / "nothing"), "/console")
    assert response.status_code == 503
    assert "make setup" in response.text
    assert "content-security-policy" in response.headers


async def test_production_serves_the_console_only_when_asked(built: Path) -> None:
    assert (await get(app("production", built), "/console")).status_code == 404
    assert (await get(app("production", built, console=True), "/console")).status_code == 200
    assert (await get(app("dev", built, console=False), "/console")).status_code == 404
