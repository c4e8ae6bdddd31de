"""The service with several uvicorn workers, and a way to know (and pick) which worker serves a connection.

uvicorn's workers accept connections from one shared listening socket, so which worker gets a
connection is the kernel's choice. A test that claims "both workers were hit" must see it: the worker
holding a connection is found from /proc (the connection's socket inode in /proc/net/tcp, then the
worker whose file descriptors include it), and `connect_to` opens connections until one lands on the
worker wanted. Linux only, like the rest of the harness.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.service import Service, run_service

__all__ = ["HttpAnswer", "Workers", "run_workers"]


@dataclass(frozen=True)
class HttpAnswer:
    worker: int
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Workers:
    service: Service
    pids: tuple[int, ...]
    port: int

    @property
    def base_url(self) -> str:
        return self.service.base_url

    def serving(self, client_port: int, timeout: float = 2.0) -> int:
        """The pid of the worker that holds the connection from 127.0.0.1:`client_port` (once it accepted it)."""
        deadline = time.monotonic() + timeout
        while True:
            inode = _server_socket_inode(self.port, client_port)
            if inode is not None:
                for pid in self.pids:
                    if _holds_socket(pid, inode):
                        return pid
            if time.monotonic() > deadline:
                raise AssertionError(f"no worker of {self.pids} holds the connection from port {client_port}")
            time.sleep(0.01)

    async def request(
        self,
        method: str,
        path: str,
        *,
        worker: int | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout: float = 15.0,
    ) -> HttpAnswer:
        """One HTTP/1.1 request on a connection of its own (to `worker` if given); the answer and who served it."""
        reader, writer, pid = await self.connect_to(worker)
        try:
            head = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{self.port}", "connection: close"]
            head += [f"{name}: {value}" for name, value in (headers or {}).items()]
            head.append(f"content-length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        status_line, _, rest = raw.partition(b"\r\n")
        header_block, _, payload = rest.partition(b"\r\n\r\n")
        answer_headers = {}
        for line in header_block.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        if answer_headers.get("transfer-encoding") == "chunked":
            payload = _unchunk(payload)
        return HttpAnswer(pid, int(status_line.split()[1]), answer_headers, payload)

    async def connect_to(
        self, worker: int | None = None, attempts: int = 100
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
        """A connection, to `worker` if given (opening new ones until the kernel hands one to it)."""
        for _ in range(attempts):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            client_port = writer.get_extra_info("sockname")[1]
            pid = await asyncio.to_thread(self.serving, client_port)
            if worker is None or pid == worker:
                return reader, writer, pid
            writer.close()
        raise AssertionError(f"no connection reached worker {worker} in {attempts} attempts")


def _unchunk(payload: bytes) -> bytes:
    out = bytearray()
    while payload:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += payload[:size]
        payload = payload[size + 2 :]
    return bytes(out)


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return inode
    return None


def _holds_socket(pid: int, inode: str) -> bool:
    target = f"socket:[{inode}]"
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") == target:
                return True
        except OSError:
            continue
    return False


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


def _worker_pids(service: Service, workers: int, timeout: float) -> tuple[int, ...]:
    """The worker processes (uvicorn's children), once every one of them has finished its start-up."""
    deadline = time.monotonic() + timeout
    while True:
        lines = service.log_path.read_text(errors="replace").splitlines()
        started = {int(line.rsplit("[", 1)[1].split("]", 1)[0]) for line in lines if "Started server process [" in line}
        ready = sum("Application startup complete." in line for line in lines)
        serving = tuple(sorted(started & set(_children(service.process.pid))))
        if len(serving) >= workers and ready >= workers:
            return serving
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(serving)} of {workers} workers started:\n{service.log_tail()}")
        time.sleep(0.1)


@contextmanager
def run_workers(
    settings: Mapping[str, str], *, workers: int = 2, port: int | None = None, startup_timeout: float = 60.0
) -> Iterator[Workers]:
    """The service with `workers` workers (`settings` must name GXRTC_REDIS_URL), once every worker serves."""
    with run_service({**settings, "GXRTC_WORKERS": str(workers)}, port=port, startup_timeout=startup_timeout) as svc:
        pids = _worker_pids(svc, workers, startup_timeout)
        yield Workers(service=svc, pids=pids, port=int(svc.base_url.rsplit(":", 1)[1]))
