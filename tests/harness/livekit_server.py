"""A throwaway livekit-server for integration tests.

The config is derived from dev/livekit.yaml (same API key and secret, room
settings, local-only STUN) with ports chosen so the test server never collides
with a developer's server on 7880.

Two network setups are supported:

* Inside the namespace made by ``dev/netns.sh`` (``node_ip`` set, the required
  path): the server binds loopback and the namespace's private address, and
  advertises that address as its only ICE host candidate. Clients in the same
  namespace reach it; nothing else can.
* On the host (``node_ip`` None): the server binds 127.0.0.1 and offers only a
  127.0.0.1 ICE candidate. The rtc client sends from the host's own addresses,
  so the traffic never leaves the kernel, but prefer the namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import yaml

from tests.harness.binaries import resolve_binary
from tests.harness.ports import free_port

__all__ = ["LiveKitServer", "LiveKitServerError", "find_livekit_binary", "node_ip_from_environment"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_CONFIG = REPO_ROOT / "dev" / "livekit.yaml"
INSTALL_SCRIPT = REPO_ROOT / "dev" / "install-livekit.sh"

# Outside the kernel's ephemeral range (32768-60999), where the rtc client's own
# sockets land, and away from dev/livekit.yaml's 50000-50200.
_UDP_RANGE_FLOOR = 20000
_UDP_RANGE_CEIL = 32000
_UDP_RANGE_SIZE = 200


class LiveKitServerError(RuntimeError):
    pass


def find_livekit_binary() -> str:
    """Path of livekit-server, as dev/install-livekit.sh resolves it (it honours LIVEKIT_SERVER_BIN)."""
    # Generous timeout: the first call may build the server with `go install`.
    return resolve_binary(INSTALL_SCRIPT, "LIVEKIT_SERVER_BIN", LiveKitServerError, timeout=1800)


def node_ip_from_environment() -> str | None:
    """The namespace address exported by ``dev/netns.sh exec``, or None on the host.

    Raises when the variable is set but the address is not on a local interface:
    advertising an address nobody holds would only surface later as an ICE timeout.
    """
    value = os.environ.get("GXRTC_TEST_NODE_IP", "").strip()
    if not value:
        return None
    ipaddress.ip_address(value)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((value, 0))
    except OSError as exc:
        raise LiveKitServerError(
            f"GXRTC_TEST_NODE_IP={value} is not a local address here ({exc}); "
            "run tests through `dev/netns.sh exec` after `dev/netns.sh up`"
        ) from exc
    return value


def _udp_port_free(port: int) -> bool:
    # Binding the wildcard also fails when any single address already holds the port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _free_udp_range(size: int = _UDP_RANGE_SIZE) -> tuple[int, int]:
    rng = random.Random()
    for _ in range(50):
        start = rng.randrange(_UDP_RANGE_FLOOR, _UDP_RANGE_CEIL - size)
        if all(_udp_port_free(p) for p in range(start, start + size)):
            return start, start + size - 1
    raise LiveKitServerError(f"no free block of {size} UDP ports in {_UDP_RANGE_FLOOR}-{_UDP_RANGE_CEIL}")


class LiveKitServer:
    """One livekit-server process with its own temp config and log file.

    Use as a context manager or call :meth:`start` / :meth:`stop`. :meth:`start`
    raises :class:`LiveKitServerError` (with the log tail) when the server does
    not come up; it never skips.
    """

    def __init__(
        self,
        *,
        node_ip: str | None = None,
        binary: str | None = None,
        base_config: Path = DEV_CONFIG,
        workdir: Path | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
        log_level: str = "info",
        webhook_urls: list[str] | None = None,
    ) -> None:
        self.node_ip = node_ip
        self.host = host
        self.startup_timeout = startup_timeout
        self._binary = binary
        self._base_config = base_config
        self._workdir = workdir
        self._log_level = log_level
        # The dev config's webhook points at a `make run` service; a test server sends only where told.
        self.webhook_urls = list(webhook_urls or [])
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None
        self._paused = False

        base = yaml.safe_load(base_config.read_text())
        keys: dict[str, str] = base.get("keys") or {}
        if not keys:
            raise LiveKitServerError(f"{base_config} has no keys")
        self.api_key, self.api_secret = next(iter(keys.items()))
        self._base = base

        self.port = 0
        self.rtc_tcp_port = 0
        self.udp_range = (0, 0)
        self.config_path: Path | None = None
        self.log_path: Path | None = None
        self.version = ""

    # -- public surface -------------------------------------------------

    @property
    def advertised_ip(self) -> str:
        """The one address the server offers as its ICE candidate."""
        return self.node_ip or "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def binary(self) -> str:
        if self._binary is None:
            self._binary = find_livekit_binary()
        return self._binary

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, lines: int = 60, width: int = 600) -> str:
        """The last ``lines`` log lines, each cut to ``width`` characters (join lines carry whole SDPs)."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(line if len(line) <= width else line[:width] + " [...]" for line in text)

    def describe(self) -> str:
        where = f"netns, node_ip {self.node_ip}" if self.node_ip else "host loopback"
        return (
            f"{self.version or 'livekit-server'} at {self.url} ({where}); rtc tcp {self.rtc_tcp_port}, "
            f"udp {self.udp_range[0]}-{self.udp_range[1]}; log {self.log_path}"
        )

    def start(self) -> None:
        if self._proc is not None:
            raise LiveKitServerError("server already started")
        binary = self.binary
        self.version = self._read_version(binary)
        log.info("using %s (%s)", binary, self.version)

        workdir = self._workdir or Path(tempfile.mkdtemp(prefix="gxrtc-livekit-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "livekit.yaml"
        self.log_path = workdir / "livekit.log"
        # A port found free can be taken by another process before the server binds it: try new ones.
        for attempt in range(3):
            self.port = free_port(self.host)
            self.rtc_tcp_port = free_port("0.0.0.0")
            self.udp_range = _free_udp_range()
            self.config_path.write_text(yaml.safe_dump(self.build_config(), sort_keys=False))
            self._spawn(workdir, append_log=False)
            try:
                self._wait_ready()
                break
            except LiveKitServerError as exc:
                self.stop()
                if attempt == 2 or "address already in use" not in str(exc):
                    raise
            except BaseException:
                self.stop()
                raise
        log.info("started %s", self.describe())

    def _spawn(self, workdir: Path, *, append_log: bool) -> None:
        assert self.config_path is not None
        assert self.log_path is not None
        cmd = [self.binary, "--dev", "--config", str(self.config_path)]
        # setpriv makes the kernel kill the server if pytest dies without running teardown. The
        # signal follows the *thread* that forks, so call start() from a long-lived thread.
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "KILL", "--", *cmd]
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = self.log_path.open("ab") if append_log else self.log_path.open("wb")
        # livekit-server reads LIVEKIT_KEYS, LIVEKIT_CONFIG_BODY, ... from the environment; only the file counts.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            # Its own process group, so a terminal Ctrl-C reaches pytest, which then stops it in order.
            start_new_session=True,
        )
        self._paused = False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            if self._paused:
                # A stopped process would not act on SIGTERM until continued.
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                self._paused = False
            # The first SIGTERM waits for participants to leave; the second forces shutdown.
            for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGTERM, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                log.warning("livekit-server %s ignored SIGTERM; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- fault injection ------------------------------------------------
    #
    # For tests that need a LiveKit that hangs, dies or comes back. Use them only on a
    # server of your own (never the session's shared one): every other test would see it.

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): its sockets still accept connections, but nothing answers."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT); what queued up meanwhile is then processed."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def kill(self, timeout: float = 10.0) -> None:
        """Kill the server outright (SIGKILL), as a crash would, and reap it. Ports and config are kept."""
        proc = self._proc
        if proc is None:
            raise LiveKitServerError("server not started")
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=timeout)
        self._paused = False

    def restart(self, *, wait: bool = True) -> None:
        """Start a new process on the same ports, config and log file (appended to), as after a crash.

        Kills the current process first if it still runs. With ``wait`` (the default) returns once
        the server answers; otherwise call :meth:`wait_ready` (from any thread). Call this from a
        long-lived thread (see :meth:`start`): the new process dies with the thread that spawned it.
        """
        if self._proc is None or self.config_path is None or self.log_path is None:
            raise LiveKitServerError("restart() needs a server that was started")
        if self._proc.poll() is None:
            self.kill()
        if self._log_file is not None:
            self._log_file.write(b"--- gxrtc test harness: livekit-server restarted on the same ports ---\n")
            self._log_file.flush()
        self._spawn(self.config_path.parent, append_log=True)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Block until the server answers ``GET /`` (raises with the log tail after ``startup_timeout``)."""
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("ready %s", self.describe())

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise LiveKitServerError(f"cannot send {sig.name}: the server is not running")
        self._proc.send_signal(sig)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- config -----------------------------------------------------------

    def build_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {k: v for k, v in self._base.items() if k not in ("webhook",)}
        if self.webhook_urls:
            cfg["webhook"] = {"api_key": self.api_key, "urls": self.webhook_urls}
        cfg["port"] = self.port
        rtc: dict[str, Any] = dict(cfg.get("rtc") or {})
        for key in ("udp_port", "node_ip", "ips", "interfaces", "enable_loopback_candidate"):
            rtc.pop(key, None)
        rtc.update(
            {
                "tcp_port": self.rtc_tcp_port,
                "port_range_start": self.udp_range[0],
                "port_range_end": self.udp_range[1],
                # Never ask a STUN server for a public address, and never hand clients public STUN servers.
                "use_external_ip": False,
                "stun_servers": _local_stun_servers(rtc.get("stun_servers")),
            }
        )
        # An explicit node_ip makes the server advertise exactly that address as its host
        # candidate and skip its own STUN lookup; the include filter keeps it from
        # gathering candidates on any other interface.
        rtc["node_ip"] = self.advertised_ip
        rtc["ips"] = {"includes": [f"{self.advertised_ip}/32"]}
        if self.node_ip:
            cfg["bind_addresses"] = [self.host, self.node_ip]
        else:
            cfg["bind_addresses"] = [self.host]
            # On the host the only address that is surely local-only is loopback. The rtc
            # client never gathers loopback candidates, but its checks from the host's own
            # addresses to 127.0.0.1 stay inside the kernel and succeed.
            rtc["enable_loopback_candidate"] = True
        cfg["rtc"] = rtc
        room: dict[str, Any] = dict(cfg.get("room") or {})
        # The dev config enables it; a test may hand in a config that leaves it off on purpose.
        room.setdefault("enable_remote_unmute", True)
        cfg["room"] = room
        cfg["logging"] = {**(cfg.get("logging") or {}), "level": self._log_level}
        return cfg

    # -- internals ----------------------------------------------------------

    @staticmethod
    def _read_version(binary: str) -> str:
        try:
            out = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, timeout=30, check=True, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise LiveKitServerError(f"`{binary} --version` failed: {exc}") from exc
        return out.stdout.strip() or out.stderr.strip()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no attempt"
        # Ignore any *_proxy variables: the server is local and must be reached directly.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise LiveKitServerError(
                    f"livekit-server exited with {self._proc.returncode} during startup; "
                    f"config {self.config_path}, log tail:\n{self.log_tail()}"
                )
            try:
                with opener.open(self.url + "/", timeout=1.0) as resp:
                    body = resp.read().decode(errors="replace").strip()
                if resp.status == 200 and body == "OK":
                    return
                last_error = f"HTTP {resp.status}: {body[:200]!r}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise LiveKitServerError(
            f"livekit-server did not answer GET {self.url}/ within {self.startup_timeout}s "
            f"(last error: {last_error}); log tail:\n{self.log_tail()}"
        )


def _local_stun_servers(configured: object) -> list[str]:
    """The configured STUN servers, refusing any that is not on loopback."""
    servers = [str(s) for s in configured] if isinstance(configured, list) else []
    for server in servers:
        host = server.rsplit(":", 1)[0].strip("[]")
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not local:
            raise LiveKitServerError(f"refusing non-loopback STUN server {server!r} from {DEV_CONFIG}")
    # An empty list would make livekit-server fall back to Google's public STUN servers.
    return servers or ["127.0.0.1:3478"]
