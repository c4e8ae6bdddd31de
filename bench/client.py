"""The benchmark's own HTTP client for the service: one aiohttp session, the bearer key on every request.

aiohttp, not httpx: the direct reads go through ``livekit-api``, which is aiohttp too, so the two sides
of each "service minus direct" difference pay the same client library. Every answer is checked (status,
envelope or GraphQL errors); a wrong answer is an error, never a sample.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

import aiohttp

__all__ = ["BenchError", "ServiceClient"]


class BenchError(RuntimeError):
    pass


class ServiceClient:
    def __init__(self, base_url: str, key: str, *, timeout: float = 15.0, connections: int = 4) -> None:
        if not base_url.startswith("http://127.0.0.1:"):
            raise ValueError(f"the benchmark talks to loopback only, not {base_url}")
        self._session = aiohttp.ClientSession(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=aiohttp.ClientTimeout(total=timeout),
            connector=aiohttp.TCPConnector(limit=connections),
        )

    async def rest(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        """The ``data`` of a REST envelope; raises unless the answer is 200."""
        async with self._session.request(method, path, data=form) as response:
            body = await response.read()
        if response.status != 200:
            raise BenchError(f"{method} {path}: HTTP {response.status}: {body[:300]!r}")
        return json.loads(body)["data"]

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a GraphQL answer; raises on a non-200 status or any error."""
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        async with self._session.post("/graphql", json=payload) as response:
            body = await response.read()
        if response.status != 200:
            raise BenchError(f"GraphQL: HTTP {response.status}: {body[:300]!r}")
        decoded = json.loads(body)
        if decoded.get("errors"):
            raise BenchError(f"GraphQL errors for {query[:80]!r}: {decoded['errors']!r:.300}")
        return decoded["data"]

    async def aclose(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
