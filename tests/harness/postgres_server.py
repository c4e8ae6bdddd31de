"""A throwaway PostgreSQL cluster for the store tests.

`initdb` into a fresh temp directory, trust authentication for 127.0.0.1 only, a free port, no Unix
socket outside that directory, and `fsync=off` (a test cluster needs no durability against power loss;
a killed server still keeps what it committed, since its WAL is written before each commit returns).
PostgreSQL refuses to run as root, and the tests run as root inside the network namespace, so as root
the cluster belongs to, and runs as, `nobody` (`setpriv`). Like the Redis harness, the server dies with
the thread that started it (`--pdeathsig`), and :meth:`PostgresServer.kill` / :meth:`restart` are the
fault-injection methods, for servers a test owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.harness.binaries import resolve_binary
from tests.harness.ports import free_port

__all__ = ["PostgresServer", "PostgresServerError", "find_postgres_binary"]

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "dev" / "install-postgres.sh"
HOST = "127.0.0.1"
SUPERUSER = "postgres"
_UNPRIVILEGED = "nobody"


class PostgresServerError(RuntimeError):
    pass


def find_postgres_binary() -> str:
    """Path of `postgres`, as dev/install-postgres.sh resolves it (it honours POSTGRES_BIN)."""
    return resolve_binary(INSTALL_SCRIPT, "POSTGRES_BIN", PostgresServerError, timeout=900)


class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, *, binary: str | None = None, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self.port = 0
        self.dir: Path | None = None
        self.log_path: Path | None = None

    @property
    def bindir(self) -> Path:
        if self._binary is None:
            self._binary = find_postgres_binary()
        return Path(self._binary).parent

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def describe(self) -> str:
        pid = self._proc.pid if self._proc is not None else None
        return f"postgres at {HOST}:{self.port} (pid {pid}); log {self.log_path}"

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> None:
        if self._proc is not None:
            raise PostgresServerError("server already started")
        # Under /tmp itself: pytest's own temp directories are root's alone, which `nobody` cannot enter.
        self.dir = Path(tempfile.mkdtemp(prefix="gxrtc-postgres-"))
        data = self.dir / "data"
        data.mkdir()
        self.log_path = self.dir / "postgres.log"
        self.log_path.touch()
        if os.geteuid() == 0:
            user = pwd.getpwnam(_UNPRIVILEGED)
            for path in (self.dir, data, self.log_path):
                os.chown(path, user.pw_uid, user.pw_gid)
        initdb = subprocess.run(
            [*self._as_owner(), str(self.bindir / "initdb"), "-D", str(data), "-U", SUPERUSER,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, timeout=120, check=False, cwd=self.dir,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise PostgresServerError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}{initdb.stderr}")
        (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        for attempt in range(3):
            self.port = free_port(HOST)
            self._spawn()
            try:
                self.wait_ready()
                return
            except PostgresServerError:
                self._reap()
                if attempt == 2 or "could not bind" not in self.log_tail(10):
                    raise

    def stop(self) -> None:
        """A fast shutdown (SIGINT), then SIGKILL after 10 s; the directory is removed."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self._close_log()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends notice and exit, the data stays for a restart."""
        if self._proc is None:
            raise PostgresServerError("server not started")
        self._reap()
        # The postmaster's children leave when it is gone; a restart needs their shared memory released.
        deadline = time.monotonic() + 10
        pid_file = self.dir / "data" / "postmaster.pid" if self.dir is not None else None
        while pid_file is not None and pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(OSError):
                if not self._backends_alive():
                    pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        """The same cluster (its data kept) on the same port, once it accepts connections again."""
        if self.dir is None or self.port == 0:
            raise PostgresServerError("restart() needs a server that was started")
        if self.running:
            self._reap()
        self._spawn()
        self.wait_ready()

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        name = name or f"t{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc is not None else None
                raise PostgresServerError(f"postgres exited with {code}; log tail:\n{self.log_tail()}")
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port), "-U", SUPERUSER],
                timeout=10, check=False,
            )  # fmt: skip
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise PostgresServerError(f"postgres did not accept connections within {self.startup_timeout}s")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------

    def _as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise PostgresServerError("as root the cluster runs as nobody, which needs setpriv (util-linux)")
        return [setpriv, f"--reuid={_UNPRIVILEGED}", "--regid=nogroup", "--clear-groups", "--"]

    def _spawn(self) -> None:
        assert self.dir is not None
        assert self.log_path is not None
        command = [
            *self._as_owner(),
            str(self.bindir / "postgres"),
            "-D", str(self.dir / "data"),
            "-p", str(self.port),
            "-c", f"listen_addresses={HOST}",
            "-c", f"unix_socket_directories={self.dir}",
            "-c", "fsync=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self._close_log()
        self._log_file = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            start_new_session=True,
        )

    def _psql(self, sql: str) -> None:
        done = subprocess.run(
            [str(self.bindir / "psql"), "-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-qc", sql],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresServerError(f"psql {sql!r} failed: {done.stderr}")

    def _backends_alive(self) -> bool:
        # Any process still attached to the data directory (a backend outliving its postmaster).
        data = str(self.dir / "data") if self.dir is not None else ""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if data and data.encode() in (entry / "cmdline").read_bytes():
                        return True
        return False

    def _reap(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
