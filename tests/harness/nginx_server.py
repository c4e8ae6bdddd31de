"""nginx in front of service instances, from the same template `make cluster` uses (dev/nginx/).

The config is what dev/nginx/render.sh makes of dev/nginx/gxrtc.conf.template, as for dev/cluster.sh,
checked with `nginx -t`, and run in the foreground with its own directory for pid, logs and
temp files. Listens on 127.0.0.1 only. As root its workers run as `nobody`, as Debian's would.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.harness.binaries import resolve_binary
from tests.harness.ports import free_port

__all__ = ["RENDER", "NginxServer", "NginxServerError", "find_nginx_binary", "render"]

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "dev" / "install-nginx.sh"
RENDER = REPO_ROOT / "dev" / "nginx" / "render.sh"
HOST = "127.0.0.1"


class NginxServerError(RuntimeError):
    pass


def find_nginx_binary() -> str:
    """Path of nginx, as dev/install-nginx.sh resolves it (it honours NGINX_BIN)."""
    return resolve_binary(INSTALL_SCRIPT, "NGINX_BIN", NginxServerError, timeout=600)


def render(directory: Path, listen_port: int, upstream_ports: Sequence[int], max_body_bytes: int) -> str:
    """The config dev/nginx/render.sh makes from the template, as for dev/cluster.sh."""
    done = subprocess.run(
        [str(RENDER), str(directory), f"{HOST}:{listen_port}", str(max_body_bytes), *map(str, upstream_ports)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise NginxServerError(f"{RENDER} failed: {done.stderr}")
    return done.stdout


class NginxServer:
    """One nginx (master and one worker) on 127.0.0.1 in front of `upstream_ports`."""

    def __init__(self, upstream_ports: Sequence[int], *, max_body_bytes: int = 65536, port: int | None = None) -> None:
        self.upstream_ports = list(upstream_ports)
        self.max_body_bytes = max_body_bytes
        self.port = port or free_port(HOST)
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def log_tail(self, name: str = "error.log", lines: int = 40) -> str:
        path = self.dir / name if self.dir is not None else None
        if path is None or not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def start(self, startup_timeout: float = 15.0) -> None:
        binary = find_nginx_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="gxrtc-nginx-"))
        # Its workers (nobody, as root) make and use the temp directories inside.
        self.dir.chmod(0o755)
        config = self.dir / "nginx.conf"
        config.write_text(render(self.dir, self.port, self.upstream_ports, self.max_body_bytes))
        command = [binary, "-p", str(self.dir), "-c", str(config), "-e", str(self.dir / "error.log")]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30, check=False)
        if check.returncode != 0:
            raise NginxServerError(f"nginx -t refused the config:\n{check.stderr}")
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self._log = (self.dir / "stderr.log").open("wb")
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NginxServerError(f"nginx exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise NginxServerError(f"nginx did not listen on {self.port} within {startup_timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """A quick shutdown (SIGTERM), then SIGKILL after 10 s; the directory stays for a failed test's logs."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def remove(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc is None:
            self.remove()
