"""The service under test: uvicorn with N workers in a child process, and the memory of its process tree.

Settings reach the child only through its environment, built here: ambient ``LIVEKIT_*`` and ``GXRTC_*``
variables are dropped so a developer's shell cannot change what the benchmark measures (the same rule
as ``tests/harness/service.py``, which has no worker option, hence this module).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer

__all__ = ["CpuMeter", "ProcessMemory", "RssSampler", "Service", "free_port", "process_tree"]

ROOT = Path(__file__).resolve().parent.parent


# -- /proc ---------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces; the parent pid follows it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children = _children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    role: str
    """``worker`` serves requests; ``supervisor`` is uvicorn's parent when there are several workers."""
    rss_kb: int
    hwm_kb: int
    """VmHWM: the peak RSS of the process since it started."""

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    @property
    def hwm_mb(self) -> float:
        return self.hwm_kb / 1024


def _status_kb(pid: int) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    try:
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (KeyError, ValueError, IndexError):
        return None  # a zombie has no VmRSS


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# -- the service -----------------------------------------------------------------------------------


@dataclass
class Service:
    """``python -m graphql_api`` (as ``make run`` starts it) with ``workers`` processes on 127.0.0.1."""

    settings: Mapping[str, str]
    workers: int = 1
    startup_timeout: float = 60.0
    port: int = 0
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log: object | None = field(default=None, repr=False)
    _redis: RedisServer | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        self.port = self.port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GXRTC_"))}
        env.update(self.settings)
        # Never reach the loopback service through a proxy a developer's shell may set.
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            env.pop(proxy, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        log = tempfile.NamedTemporaryFile(prefix="gxrtc-bench-service-", suffix=".log", delete=False)  # noqa: SIM115
        self._log = log
        self.log_path = Path(log.name)
        # The service's own entry point, as `make run` and the test suite start it: the same
        # server, event loop and protocol as in production.
        env.update(GXRTC_HOST="127.0.0.1", GXRTC_PORT=str(self.port), GXRTC_WORKERS=str(self.workers))
        if self.workers > 1 and not env.get("GXRTC_REDIS_URL"):
            # Several workers need a Redis (docs/workers.md); a local one, as `make run` starts it.
            self._redis = RedisServer()
            self._redis.start()
            env["GXRTC_REDIS_URL"] = self._redis.url
        command = [sys.executable, "-m", "graphql_api"]
        # If this process dies without cleaning up, the kernel stops uvicorn's supervisor (it then stops
        # its workers). The signal follows the forking thread; the benchmark starts services from main.
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        self._proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self._proc.returncode}:\n{self.log_tail()}")
            started = self.log_text().count("Application startup complete.")
            if started >= self.workers:
                try:
                    with opener.open(f"{self.base_url}/healthz", timeout=1) as response:
                        if response.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the service did not start {self.workers} worker(s) within {self.startup_timeout}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            # Remember the workers: if the supervisor dies hard they may outlive it, and are then ended by pid.
            started = [pid for pid in process_tree(proc.pid) if pid != proc.pid]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            for pid in started:
                if _status_kb(pid) is not None and "multiprocessing" in _cmdline(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        redis, self._redis = self._redis, None
        if redis is not None:
            redis.stop()
        log = self._log
        self._log = None
        if log is not None:
            log.close()  # type: ignore[attr-defined]
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- memory ------------------------------------------------------------------------------------

    def memory(self) -> list[ProcessMemory]:
        """RSS and peak RSS of uvicorn and every process under it, now."""
        assert self._proc is not None
        # setpriv execs uvicorn in place, so the child pid is uvicorn's.
        result = []
        for pid in process_tree(self._proc.pid):
            kb = _status_kb(pid)
            if kb is None:
                continue
            if self.workers == 1:
                role = "worker"
            elif pid == self._proc.pid:
                role = "supervisor"
            elif "multiprocessing" in _cmdline(pid) and "resource_tracker" not in _cmdline(pid):
                role = "worker"
            else:
                role = "helper"
            result.append(ProcessMemory(pid=pid, role=role, rss_kb=kb[0], hwm_kb=kb[1]))
        return result


class RssSampler:
    """Samples VmRSS of a service's processes every ``interval`` s in a thread; keeps each pid's maximum."""

    def __init__(self, service: Service, interval: float = 0.1) -> None:
        self._service = service
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_kb: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.peak_total_kb = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for mem in self._service.memory():
                total += mem.rss_kb
                self.roles[mem.pid] = mem.role
                self.peak_kb[mem.pid] = max(self.peak_kb.get(mem.pid, 0), mem.rss_kb)
            self.peak_total_kb = max(self.peak_total_kb, total)
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def peak_worker_mb(self) -> float:
        values = [kb for pid, kb in self.peak_kb.items() if self.roles.get(pid) == "worker"]
        return max(values, default=0) / 1024


# -- CPU -------------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, stolen): this machine's own work, and the time its hypervisor gave its CPUs to others."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return sum(fields[:7]) - fields[3] - fields[4], fields[7]


def _pid_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            after = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # utime and stime are fields 14 and 15 of stat(5); ``after`` starts at field 3.
    return int(after[11]) + int(after[12])


def _self_and_reaped_children_s() -> float:
    own = os.times()
    return own.user + own.system + own.children_user + own.children_system


class CpuMeter:
    """Where the machine's CPU went during a measurement: the service, livekit-server, the load generator
    (wrk and this process) and everything else ("foreign": other people's work on a shared machine).

    Figures are in cores (CPU seconds per wall second); ``service_cpu_s`` is absolute.
    """

    def __init__(self, service: Service, livekit_pid: int | None) -> None:
        self._service = service
        self._livekit_pid = livekit_pid
        self.result: dict[str, float] = {}

    def _snapshot(self) -> tuple[float, tuple[int, int], dict[int, int], int, float]:
        pids = process_tree(self._service.pid)
        return (
            time.monotonic(),
            _machine_ticks(),
            {pid: _pid_ticks(pid) for pid in pids},
            _pid_ticks(self._livekit_pid) if self._livekit_pid else 0,
            _self_and_reaped_children_s(),
        )

    def __enter__(self) -> Self:
        self._start = self._snapshot()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        t0, (busy0, stolen0), service0, livekit0, own0 = self._start
        t1, (busy1, stolen1), service1, livekit1, own1 = self._snapshot()
        wall = max(t1 - t0, 1e-9)
        service_s = sum(ticks - service0.get(pid, 0) for pid, ticks in service1.items()) / _TICK
        livekit_s = (livekit1 - livekit0) / _TICK
        loadgen_s = own1 - own0
        busy_s = (busy1 - busy0) / _TICK
        self.result = {
            "wall_s": round(wall, 3),
            "service_cpu_s": round(service_s, 3),
            "machine_busy_cores": round(busy_s / wall, 2),
            "service_cores": round(service_s / wall, 2),
            "livekit_cores": round(livekit_s / wall, 2),
            "loadgen_cores": round(loadgen_s / wall, 2),
            "foreign_cores": round(max(busy_s - service_s - livekit_s - loadgen_s, 0.0) / wall, 2),
            # A shared host's noise that no process here shows: this VM was ready to run, the
            # hypervisor ran someone else.
            "stolen_cores": round((stolen1 - stolen0) / _TICK / wall, 2),
        }
