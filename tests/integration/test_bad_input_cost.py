"""Bad input is cheap: refused before it costs a slot, a LiveKit call or much memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.load import EN
from tests.harness.reporting import report
from tests.harness.service import run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration


# -- bad input is cheap -------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024
DEEP = 10_000
ROUNDS = 20  # of every case below, after one warm-up round


async def raw_declared_body(base_url: str, path: str, content_type: str, length: int) -> tuple[int | None, bytes]:
    """Declare a `length`-byte body but send only the headers, as a client waiting for
    `100 Continue` would: the service must refuse on the headers alone, before any of the body."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nAccept-Language: en\r\n\r\n"
    )
    raw = b""
    try:
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(5):
            while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _content_length(raw):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                raw += chunk
    except TimeoutError:
        return None, b"no answer to the headers alone (does the service wait for the body?): " + raw[:200]
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    parts = head_bytes.split(b"\r\n", 1)[0].split()
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None), body


def _content_length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return 0


def bad_inputs(
    base_url: str,
) -> dict[str, tuple[int, Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]]]:
    """name -> (the status it must get, how to send it)."""
    token, graphql = "/api/v1/room/token", "/graphql"
    form, json_type = "application/x-www-form-urlencoded", "application/json"

    def post(
        path: str, content_type: str, content: Any
    ) -> Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]:
        async def send(client: httpx.AsyncClient) -> tuple[int | None, bytes]:
            body = content() if callable(content) else content
            response = await client.post(path, content=body, headers={"content-type": content_type})
            return response.status_code, response.content

        return send

    def declared(path: str, content_type: str) -> Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]:
        async def send(client: httpx.AsyncClient) -> tuple[int | None, bytes]:
            return await raw_declared_body(base_url, path, content_type, TEN_MB)

        return send

    async def ten_mb_stream() -> AsyncIterator[bytes]:
        for _ in range(TEN_MB // 65536):
            yield b"x" * 65536

    deep_object = b'{"a":' * DEEP + b"1" + b"}" * DEEP
    deep_array = b"[" * DEEP + b"]" * DEEP
    return {
        "REST 10 MB declared, headers first": (413, declared(token, form)),
        "GraphQL 10 MB declared, headers first": (413, declared(graphql, json_type)),
        # What most clients do: write the whole body, then read the answer.
        "REST 10 MB declared, sent whole": (413, post(token, form, b"x" * TEN_MB)),
        "REST 10 MB, chunked": (413, post(token, form, ten_mb_stream)),
        "GraphQL 10 MB, chunked": (413, post(graphql, json_type, ten_mb_stream)),
        "REST 100,000 form fields (over the cap)": (
            413,
            post(token, form, "&".join(f"f{i}=1" for i in range(100_000)).encode()),
        ),
        "REST 10,000 form fields (under the cap)": (400, post(token, form, b"a=&" * 10_000)),
        "REST 1,000 multipart fields": (
            400,
            post(
                token,
                "multipart/form-data; boundary=x",
                b"".join(b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(1000))
                + b"--x--\r\n",
            ),
        ),
        "REST invalid UTF-8 form": (400, post(token, form, b"uid=\xff\xfe&room=\xc3")),
        "REST invalid UTF-8, percent-encoded": (400, post(token, form, b"uid=%ff%fe&room=r")),
        "REST invalid UTF-8 JSON": (400, post(token, json_type, b'{"uid": "\xff", "room": "r"}')),
        "GraphQL invalid UTF-8 JSON": (400, post(graphql, json_type, b'{"query": "{ rooms { name \xff } }"}')),
        f"REST JSON {DEEP:,} deep": (400, post(token, json_type, deep_object)),
        f"GraphQL JSON {DEEP:,} deep": (400, post(graphql, json_type, deep_array)),
        f"GraphQL variables {DEEP:,} deep": (
            400,
            post(graphql, json_type, b'{"query": "{ rooms { name } }", "variables": {"a": ' + deep_array + b"}}"),
        ),
        "REST XML body": (415, post(token, "application/xml", b"<room>r</room>")),
    }


def envelope_problem(status: int | None, body: bytes, expected: int) -> str | None:
    if status != expected:
        return f"got {status}, expected {expected}: {body[:200]!r}"
    try:
        meta = json.loads(body)["meta"]
    except (ValueError, KeyError, TypeError):
        return f"{status} outside the envelope: {body[:200]!r}"
    if meta.get("code") != status or not meta.get("message") or not meta.get("error"):
        return f"{status} with an incomplete envelope (code, message and error): {meta}"
    return None


async def test_bad_input_is_refused_cheaply(fault_livekit: LiveKitServer, request: pytest.FixtureRequest) -> None:
    with run_service(service_settings(fault_livekit)) as service:
        cases = bad_inputs(service.base_url)
        # A new connection for every request, so that one refusal closing its connection cannot touch the next.
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30, limits=limits, headers=EN) as client:

            async def run(name: str) -> tuple[str, str | None, float]:
                expected, send = cases[name]
                start = time.monotonic()
                try:
                    status, body = await send(client)
                except (httpx.HTTPError, OSError, TimeoutError) as exc:
                    return name, f"no answer: {exc!r}", time.monotonic() - start
                return name, envelope_problem(status, body, expected), time.monotonic() - start

            results = list(await asyncio.gather(*(run(name) for name in cases)))  # warm-up round
            before = service.memory_kib()
            started = time.monotonic()
            for _ in range(ROUNDS):
                results += await asyncio.gather(*(run(name) for name in cases))
            elapsed = time.monotonic() - started
            after = service.memory_kib()
            healthy = await client.get("/api/v1/room/")
        alive = service.process.poll() is None
        service_log = service.log_tail(30)

    problems = sorted({f"{name}: {problem}" for name, problem, _ in results if problem})
    slowest = max(results, key=lambda r: r[2])
    grew, peak_grew = after["VmRSS"] - before["VmRSS"], after["VmHWM"] - before["VmHWM"]
    report(
        request.config,
        "bad input",
        [
            f"{len(cases)} kinds x {ROUNDS + 1} rounds = {len(results)} requests in {elapsed:.1f}s "
            f"(after warm-up); slowest {slowest[0]} {slowest[2]:.2f}s",
            f"kinds: {', '.join(cases)}",
            f"refused as expected: {sum(1 for r in results if not r[1])}/{len(results)}; problems: "
            + ("; ".join(problems) or "none"),
            f"service RSS {before['VmRSS'] / 1024:.1f} MB -> {after['VmRSS'] / 1024:.1f} MB ({grew / 1024:+.1f} MB), "
            f"peak {before['VmHWM'] / 1024:.1f} MB -> {after['VmHWM'] / 1024:.1f} MB",
        ],
    )
    assert alive, service_log
    assert healthy.status_code == 200, service_log
    assert not problems, (
        "bad input not refused with a 4xx in the envelope:\n" + "\n".join(problems) + "\n" + service_log
    )
    assert grew < 20 * 1024, (before, after)
    assert peak_grew < 20 * 1024, (before, after)
    assert slowest[2] < 5.0
