"""The console's end-to-end harness: Debian's Chromium under console/e2e/driver.mjs, and the stack it runs against.

`Browser` runs the Playwright driver as a child process (one JSON command out, one JSON line back);
`Stack` is the real LiveKit and the service the console is served by, with the admin's GraphQL and
the REST face's token for setting scenes up. The tests are in tests/integration/test_console.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service
from tests.harness.subprocesses import end

__all__ = [
    "ADMIN_KEY",
    "JWT_SECRET",
    "RECONCILE_SECONDS",
    "SCREENSHOTS",
    "Browser",
    "Stack",
    "moderator",
    "plain_user",
    "serious",
]

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
SCREENSHOTS = (
    ROOT / "docs" / "console"
    if os.environ.get("GXRTC_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "gxrtc-console-screenshots"
)
ADMIN_KEY = "console-admin-key-0123456789abcdef0123456789"
JWT_SECRET = "console-test-jwt-secret-0123456789abcdef0123456789"
CHROMIUM = "/usr/bin/chromium"
RECONCILE_SECONDS = 1.0


def moderator(uid: str, *rooms: str, secret: str = JWT_SECRET) -> str:
    claims = {"sub": uid, "roles": ["moderator"], "rooms": list(rooms), "exp": int(time.time()) + 3600}
    return jwt.encode(claims, secret, algorithm="HS256")


def plain_user(uid: str) -> str:
    claims = {"sub": uid, "roles": ["user"], "exp": int(time.time()) + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _check_installed() -> None:
    if not (CONSOLE / "node_modules" / ".package-lock.json").is_file() or not (CONSOLE / "dist").is_dir():
        pytest.fail("the console is not built: `make setup` runs `npm ci` and `npm run build` in console/")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium (as root)")


class Browser:
    """console/e2e/driver.mjs as a child process: one command out, one JSON line back."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.offsite: list[str] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def run(cls, url: str) -> AsyncIterator[Browser]:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is missing: `make setup` installs Node.js for the console")
        _check_installed()
        home = tempfile.mkdtemp(prefix="gxrtc-console-")
        process = await asyncio.create_subprocess_exec(
            node,
            str(CONSOLE / "e2e" / "driver.mjs"),
            url,
            cwd=CONSOLE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "HOME": home},
            limit=4 * 1024 * 1024,
        )
        browser = cls(process)
        try:
            yield browser
        finally:
            await end(process)
            shutil.rmtree(home, ignore_errors=True)

    async def do(self, command: str, timeout: float = 60, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write((json.dumps({"do": command, **args}) + "\n").encode())
        await self.process.stdin.drain()
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    assert self.process.stderr is not None
                    raise AssertionError(f"the browser driver exited: {(await self.process.stderr.read())[-3000:]!r}")
                line: dict[str, Any] = json.loads(raw)
                if "offsite" in line:
                    self.offsite.append(line["offsite"])
                    continue
                assert line.pop("ok"), f"{command} {args}: {line}"
                return line


@dataclass
class Stack:
    livekit: LiveKitServer
    service: Service
    screenshots: list[Path] = field(default_factory=list)

    @property
    def console_url(self) -> str:
        return self.service.base_url + "/console"

    async def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(timeout=20, headers=headers) as client:
            response = await client.post(
                self.service.base_url + "/graphql", json={"query": query, "variables": variables}
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def rest_token(self, credential: str, room: str, uid: str) -> httpx.Response:
        """A join token asked of the REST face, as a caller holding `credential` would ask."""
        headers = {"authorization": f"Bearer {credential}", "accept-language": "en"}
        async with httpx.AsyncClient(timeout=20, headers=headers) as client:
            return await client.post(self.service.api + "/room/token", data={"uid": uid, "room": room})

    async def token(self, room: str, identity: str) -> str:
        data = await self.graphql(
            "mutation($r: String!, $i: String!) { createToken(room: $r, identity: $i) { token } }", r=room, i=identity
        )
        return str(data["createToken"]["token"])


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]
