"""A throwaway redis-server for tests of the event broker.

Each server listens on 127.0.0.1 only, on a free port, with its own temp directory, log file and no
persistence (``--save "" --appendonly no``): a restart comes back empty, as a crashed cache node
without persistence would. The fault-injection methods (:meth:`RedisServer.kill`,
:meth:`RedisServer.restart`, :meth:`RedisServer.pause`) are for servers a test owns; every other
test sharing a server would see them.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.harness.binaries import resolve_binary
from tests.harness.ports import free_port

__all__ = ["RedisServer", "RedisServerError", "find_redis_binary"]

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "dev" / "install-redis.sh"
HOST = "127.0.0.1"


class RedisServerError(RuntimeError):
    pass


def find_redis_binary() -> str:
    """Path of redis-server, as dev/install-redis.sh resolves it (it honours REDIS_SERVER_BIN)."""
    return resolve_binary(INSTALL_SCRIPT, "REDIS_SERVER_BIN", RedisServerError, timeout=600)


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when something on 127.0.0.1:``port`` answers a RESP ``PING`` with ``+PONG``."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on 127.0.0.1. Use as a context manager or call :meth:`start` / :meth:`stop`.

    :meth:`start` raises :class:`RedisServerError` (with the log tail) when the server does not come up.
    Call it, and :meth:`restart`, from a long-lived thread: the server is killed when the thread that
    spawned it dies (``setpriv --pdeathsig``), so a crashed pytest leaves nothing behind.
    """

    def __init__(
        self, *, workdir: Path | None = None, binary: str | None = None, startup_timeout: float = 10.0
    ) -> None:
        self.startup_timeout = startup_timeout
        self._binary = binary
        self._workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._paused = False
        self.port = 0
        self.dir: Path | None = None
        self.log_path: Path | None = None

    # -- public surface -------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def binary(self) -> str:
        if self._binary is None:
            self._binary = find_redis_binary()
        return self._binary

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def paused(self) -> bool:
        return self._paused

    def describe(self) -> str:
        return f"redis-server at {self.url} (pid {self.pid}); log {self.log_path}"

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> None:
        if self._proc is not None:
            raise RedisServerError("server already started")
        self.dir = self._workdir or Path(tempfile.mkdtemp(prefix="gxrtc-redis-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "redis.log"
        # A free port may be taken between choosing it and binding it; choose again then.
        for attempt in range(3):
            self.port = free_port(HOST)
            self._spawn(log_mode="wb" if attempt == 0 else "ab")
            try:
                self._wait_ready()
                return
            except RedisServerError:
                self._reap()
                if attempt == 2 or "Address already in use" not in self.log_tail(5):
                    raise

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after 5 s), reap, and close the log. The port and directory stay known."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            if self._paused:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self._paused = False
        self._close_log()

    # -- fault injection ------------------------------------------------

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and reap it. Port, directory and log are kept for :meth:`restart`."""
        if self._proc is None:
            raise RedisServerError("server not started")
        self._reap()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are still accepted by the kernel, but nothing answers."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self._paused = False

    def restart(self, *, wait: bool = True) -> None:
        """A new, empty server on the SAME port (killing the current one first if it still runs).

        With ``wait`` returns once it answers PING; otherwise call :meth:`wait_ready` (from any thread).
        """
        if self.dir is None or self.port == 0:
            raise RedisServerError("restart() needs a server that was started")
        if self._proc is not None and self._proc.poll() is None:
            self._reap()
        if self._log_file is not None:
            self._log_file.write(b"--- gxrtc test harness: redis-server restarted on the same port ---\n")
            self._log_file.flush()
        self._spawn(log_mode="ab")
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Block until the server answers PING; raises with the log tail after ``startup_timeout``."""
        self._wait_ready()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------

    def command(self) -> list[str]:
        assert self.dir is not None
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", HOST,
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--logfile", "",  # to stdout, which goes to the log file
            "--loglevel", "notice",
        ]  # fmt: skip

    def _spawn(self, *, log_mode: str) -> None:
        assert self.log_path is not None
        assert self.dir is not None
        cmd = self.command()
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
        self._close_log()
        self._log_file = self.log_path.open(log_mode)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            start_new_session=True,
        )
        self._paused = False

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None:
                raise RedisServerError("server not started")
            if proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {proc.returncode} during startup on port {self.port}; "
                    f"log tail:\n{self.log_tail()}"
                )
            if ping(self.port):
                return
            time.sleep(0.02)
        raise RedisServerError(
            f"redis-server did not answer PING on {self.url} within {self.startup_timeout}s; "
            f"log tail:\n{self.log_tail()}"
        )

    def _reap(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)
        self._paused = False

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RedisServerError(f"cannot send {sig.name}: the server is not running")
        self._proc.send_signal(sig)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
