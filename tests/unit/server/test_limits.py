"""BodyIntake and Admission, driven with ASGI messages: what the app sees, when a slot is taken, what is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Message

from graphql_api.errors import GxrtcError
from graphql_api.server.limits import Admission, BodyIntake, Gate


def refuse(scope: Any, error: GxrtcError) -> Response:
    retry_after = getattr(error, "retry_after", None)
    headers = {"retry-after": str(retry_after)} if retry_after else None
    body = orjson.dumps({"error": error.error})
    return Response(body, status_code=error.status, headers=headers, media_type="application/json")


def scope(headers: list[tuple[bytes, bytes]], client: str = "10.0.0.1") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": headers,
        "client": (client, 50000),
    }


def chunks(
    *bodies: bytes, more: bool = False, then: Callable[[], Awaitable[Message]] | None = None
) -> Callable[[], Awaitable[Message]]:
    """Receives `bodies`, the last with more_body=`more`; then what `then` says, or a disconnect."""
    last = len(bodies) - 1
    pending = [{"type": "http.request", "body": b, "more_body": i < last or more} for i, b in enumerate(bodies)]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class Sent:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        return self.messages[0]["status"] if self.messages else None

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"]) if self.messages else {}


class Recorder:
    """An app that reads its whole body and notes what it got and how many slots were taken meanwhile."""

    def __init__(self, gate: Gate | None = None) -> None:
        self.bodies: list[bytes] = []
        self.gate = gate
        self.in_flight_seen: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        if self.gate is not None:
            self.in_flight_seen.append(self.gate.in_flight)
        await Response("ok")(scope, receive, send)


def intake(app: Any, timeout: float = 5.0) -> BodyIntake:
    return BodyIntake(app, max_bytes=100, timeout_seconds=timeout, refuse=refuse)


async def test_the_app_gets_the_whole_body_in_one_message() -> None:
    app = Recorder()
    sent = Sent()
    await intake(app)(scope([(b"content-length", b"9")]), chunks(b"abc", b"def", b"ghi"), sent)
    assert app.bodies == [b"abcdefghi"]
    assert sent.status == 200


async def test_a_body_over_the_cap_is_refused_declared_or_streamed() -> None:
    app = Recorder()
    declared, streamed = Sent(), Sent()
    await intake(app)(scope([(b"content-length", b"101")]), chunks(b""), declared)
    await intake(app)(scope([(b"transfer-encoding", b"chunked")]), chunks(b"x" * 60, b"x" * 60, b"x"), streamed)
    assert declared.status == streamed.status == 413
    assert app.bodies == []


async def test_a_late_body_gets_408_and_a_closed_connection_before_any_slot() -> None:
    gate = Gate(max_in_flight=1, max_in_flight_per_client=1)
    app = Recorder(gate)
    never = asyncio.Event()

    async def stall() -> Message:
        await never.wait()
        raise AssertionError("unreachable")

    sent = Sent()
    service = intake(Admission(app, gate=gate, refuse=refuse), timeout=0.05)
    await service(scope([(b"content-length", b"50")]), chunks(b"12345", more=True, then=stall), sent)
    assert sent.status == 408
    assert sent.headers[b"connection"] == b"close"
    assert app.bodies == []
    assert gate.in_flight == 0
    assert service.late.total == 1


async def test_an_upload_given_up_is_counted_and_nothing_is_answered() -> None:
    app = Recorder()
    sent = Sent()
    service = intake(app)
    await service(scope([(b"content-length", b"50")]), chunks(b"12345", more=True), sent)
    assert sent.messages == []
    assert app.bodies == []
    assert service.aborted.total == 1


async def test_stalled_bodies_hold_no_slot_while_a_complete_one_is_served() -> None:
    gate = Gate(max_in_flight=1, max_in_flight_per_client=1)
    app = Recorder(gate)
    service = intake(Admission(app, gate=gate, refuse=refuse))
    never = asyncio.Event()

    async def stall() -> Message:
        await never.wait()
        return {"type": "http.disconnect"}

    stalled = [
        asyncio.ensure_future(service(scope([(b"content-length", b"50")]), chunks(b"1", more=True, then=stall), Sent()))
        for _ in range(5)
    ]
    await asyncio.sleep(0.01)
    served = Sent()
    await service(scope([(b"content-length", b"2")]), chunks(b"ok"), served)
    assert served.status == 200
    assert app.in_flight_seen == [1]
    never.set()
    await asyncio.gather(*stalled)


async def test_one_client_cannot_take_every_slot() -> None:
    gate = Gate(max_in_flight=10, max_in_flight_per_client=2)
    release = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await Response("ok")(scope, receive, send)

    admission = Admission(slow, gate=gate, refuse=refuse)
    held = [Sent() for _ in range(3)]
    tasks = [asyncio.ensure_future(admission(scope([]), chunks(b""), sent)) for sent in held]
    await asyncio.sleep(0.01)
    assert held[2].status == 429  # the third from the same address
    assert held[2].headers[b"retry-after"] == b"1"
    other = Sent()
    other_task = asyncio.ensure_future(admission(scope([], client="10.0.0.2"), chunks(b""), other))
    await asyncio.sleep(0.01)
    assert gate.in_flight == 3
    release.set()
    await asyncio.gather(*tasks, other_task)
    assert [sent.status for sent in held[:2]] == [200, 200]
    assert other.status == 200
    assert gate.in_flight == 0
    assert gate.by_client == {}
