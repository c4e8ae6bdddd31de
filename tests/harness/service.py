"""Runs GXRTC API as a real uvicorn server in a child process, for the integration suite.

Settings are passed explicitly through the child's environment; ambient
LIVEKIT_* and GXRTC_* variables of the test run are dropped so that a
developer's shell cannot change what a test talks to.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def memory_kib(self) -> dict[str, int]:
        """The service process's memory figures from /proc (VmRSS, VmHWM, ...), in KiB; Linux only."""
        figures: dict[str, int] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.startswith("Vm") and value.strip().endswith("kB"):
                figures[name] = int(value.split()[0])
        return figures

    def rss_kib(self) -> int:
        return self.memory_kib()["VmRSS"]


def _migrate(env: Mapping[str, str]) -> None:
    """`python -m graphql_api migrate` for these settings, in this process (in a thread: a test's loop may run)."""
    from graphql_api.core.store import Store
    from graphql_api.core.store.migrate import upgrade

    state_dir = Path(env["GXRTC_STATE_DIR"])
    url = env.get("GXRTC_DATABASE_URL") or f"sqlite+aiosqlite:///{state_dir / 'gxrtc.sqlite3'}"
    state_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        store = Store.open(url, timeout_seconds=30)
        try:
            await upgrade(store)
        finally:
            await store.aclose()

    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="migrate")
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]


@contextmanager
def run_service(
    settings: Mapping[str, str], *, startup_timeout: float = 30.0, port: int | None = None, migrate: bool = True
) -> Iterator[Service]:
    """Start the service on `port` (a free one unless given, e.g. one a webhook URL already names).

    A production service's store is migrated first (`migrate=False`: as it is, e.g. to see it refuse).
    """
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GXRTC_"))}
    # The one ambient setting a test run passes on: `GXRTC_SPEEDUPS=off dev/test.sh` tests the libraries' own paths.
    speedups = os.environ.get("GXRTC_SPEEDUPS")
    if speedups is not None:
        env["GXRTC_SPEEDUPS"] = speedups
    env.update(settings)
    if "GXRTC_STATE_DIR" not in env and "GXRTC_DATABASE_URL" not in env:
        # Each service its own moderation store (bans, locks), unless a test shares one on purpose.
        env["GXRTC_STATE_DIR"] = tempfile.mkdtemp(prefix="gxrtc-state-")
    env.pop("PORT", None)
    log = tempfile.NamedTemporaryFile(prefix="gxrtc-service-", suffix=".log", delete=False)  # noqa: SIM115
    env.update({"GXRTC_HOST": "127.0.0.1", "GXRTC_PORT": str(port)})
    # Each service its own store (SQLite in its state directory) unless the test names one.
    state_dir = tempfile.mkdtemp(prefix="gxrtc-state-")
    env.setdefault("GXRTC_STATE_DIR", state_dir)
    if migrate and env.get("GXRTC_ENV", "production") != "dev":
        _migrate(env)  # as an operator would, before a production service starts (dev migrates itself)
    command = [sys.executable, "-m", "graphql_api"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    service = Service(base_url=f"http://127.0.0.1:{port}", log_path=Path(log.name), process=process)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}:\n{service.log_tail()}")
            try:
                if httpx.get(f"{service.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start within {startup_timeout}s:\n{service.log_tail()}")
            time.sleep(0.1)
        yield service
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(state_dir, ignore_errors=True)
