"""A throwaway Prometheus (Debian's package) scraping the service under test, and its promtool.

The server listens on 127.0.0.1 only, on a free port, with its own temp
directory for its configuration and its data, and scrapes its targets every
second with the bearer credential it is given (kept in a file of its own, as
a deployment would keep it). Queries go through its HTTP API (`query`).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import httpx

from tests.harness.binaries import resolve_binary
from tests.harness.ports import free_port

__all__ = ["PrometheusServer", "PrometheusServerError", "find_prometheus_binary", "find_promtool"]

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "dev" / "install-prometheus.sh"
HOST = "127.0.0.1"


class PrometheusServerError(RuntimeError):
    pass


def find_prometheus_binary() -> str:
    """Path of prometheus, as dev/install-prometheus.sh resolves it (it honours PROMETHEUS_BIN)."""
    return resolve_binary(INSTALL_SCRIPT, "PROMETHEUS_BIN", PrometheusServerError, timeout=600)


def find_promtool() -> str:
    """promtool, which Debian's package (and Prometheus' own archives) put next to prometheus."""
    promtool = Path(find_prometheus_binary()).with_name("promtool")
    if not promtool.is_file():
        raise PrometheusServerError(f"no promtool next to {promtool.parent / 'prometheus'}")
    return str(promtool)


class PrometheusServer:
    """One prometheus process scraping `targets` (host:port) at `metrics_path` every second."""

    def __init__(
        self, targets: list[str], *, bearer: str | None = None, metrics_path: str = "/metrics", timeout: float = 30.0
    ) -> None:
        self.targets = targets
        self.bearer = bearer
        self.metrics_path = metrics_path
        self.startup_timeout = timeout
        self.port = 0
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        path = self.dir / "prometheus.log" if self.dir else None
        if path is None or not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def config(self) -> str:
        assert self.dir is not None
        job = [
            "  - job_name: gxrtc",
            "    scrape_interval: 1s",
            "    scrape_timeout: 1s",
            f"    metrics_path: {self.metrics_path}",
            f"    static_configs: [{{targets: [{', '.join(repr(t) for t in self.targets)}]}}]",
        ]
        if self.bearer is not None:
            credentials = self.dir / "scrape-credential"
            credentials.write_text(self.bearer)
            credentials.chmod(0o600)
            job += ["    authorization:", "      type: Bearer", f"      credentials_file: {credentials}"]
        return (
            "\n".join(["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:", *job]) + "\n"
        )

    def start(self) -> None:
        if self._proc is not None:
            raise PrometheusServerError("server already started")
        self.dir = Path(tempfile.mkdtemp(prefix="gxrtc-prometheus-"))
        config = self.dir / "prometheus.yml"
        config.write_text(self.config())
        self.port = free_port(HOST)
        command = [
            find_prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--log.level=warn",
        ]
        setpriv = shutil.which("setpriv")
        if setpriv:  # killed with the test run, should it die
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self._log = (self.dir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusServerError(f"prometheus exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise PrometheusServerError(f"prometheus was not ready within {self.startup_timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now, through the HTTP API."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusServerError(f"query {expr!r} failed: {response.status_code} {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
