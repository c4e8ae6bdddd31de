"""The reference deployment of `make cluster`, for the instance-death test: the same pieces, on free ports.

LiveKit (its webhooks sent to nginx), PostgreSQL (one cluster, one database), Redis, the store migrated
once (what `python -m graphql_api migrate` runs), N instances of `python -m graphql_api` in production mode
(each on its own loopback port, trusting X-Forwarded-For from nginx's address only), and nginx in front,
configured by dev/nginx/render.sh as for dev/cluster.sh. The instances start side
by side, so three cost about what one does to wait for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.nginx_server import NginxServer
from tests.harness.ports import free_port
from tests.harness.postgres_server import PostgresServer
from tests.harness.redis_server import RedisServer
from tests.harness.service import ROOT, Service
from tests.harness.service import _migrate as migrate

__all__ = ["ADMIN", "ADMIN_KEY", "MAX_BODY_BYTES", "UPSTREAM", "Cluster", "api_requests", "chain", "run_cluster"]

ADMIN_KEY = "cluster-admin-key-0123456789abcdef0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
MAX_BODY_BYTES = 65536
UPSTREAM = "x-gxrtc-upstream"
"""nginx's header naming the instances it tried for a request (dev/nginx/gxrtc.conf.template)."""


@dataclass
class Cluster:
    livekit: LiveKitServer
    redis: RedisServer
    postgres: PostgresServer
    database_url: str
    instances: list[Service]
    nginx: NginxServer

    def address(self, instance: Service) -> str:
        """The instance as nginx names it in X-Gxrtc-Upstream."""
        return instance.base_url.removeprefix("http://")


def chain(header: str) -> list[str]:
    """X-Gxrtc-Upstream: the instances nginx tried for a request, in order; the last one answered."""
    return [address for address in header.split(", ") if address]


def api_requests(instance: Service) -> float:
    """The instance's own count of REST and GraphQL requests, read from its /metrics with the admin credential."""
    answer = httpx.get(f"{instance.base_url}/metrics", headers=ADMIN, timeout=10)
    answer.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "gxrtc_requests_total" and sample.labels.get("face") in ("rest", "graphql")
    )


def instance_settings(livekit: LiveKitServer, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "LIVEKIT_URL": livekit.url,
        "LIVEKIT_API_KEY": livekit.api_key,
        "LIVEKIT_API_SECRET": livekit.api_secret,
        "GXRTC_LIVEKIT_CLIENT_URL": livekit.ws_url,
        "GXRTC_ENV": "production",
        "GXRTC_ADMIN_KEY": ADMIN_KEY,
        "GXRTC_DATABASE_URL": database_url,
        "GXRTC_REDIS_URL": redis_url,
        "GXRTC_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        # Every caller comes through nginx: its address is the one proxy whose X-Forwarded-For counts.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        # The load comes from one address; the brake on guessing is tested in test_auth_brake.py.
        "GXRTC_AUTH_BRAKE_FAILURES": "1000000",
        # Deadlines for a test machine that other suites load too: what the test measures is an instance's
        # death, not how a crowded machine meets the defaults (5 s to LiveKit, 3 s a transaction).
        "GXRTC_LIVEKIT_TIMEOUT_SECONDS": "10",
        "GXRTC_DATABASE_TIMEOUT_SECONDS": "10",
    }


def _environment(settings: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "GXRTC_", "FORWARDED_"))}
    # The one ambient setting a test run passes on, as tests/harness/service.py does.
    speedups = os.environ.get("GXRTC_SPEEDUPS")
    if speedups is not None:
        env["GXRTC_SPEEDUPS"] = speedups
    env.update(settings)
    return env


def _spawn(settings: Mapping[str, str], port: int, workdir: Path) -> Service:
    env = _environment(settings)
    env.update({"GXRTC_HOST": "127.0.0.1", "GXRTC_PORT": str(port), "GXRTC_STATE_DIR": str(workdir / f"state-{port}")})
    log_path = workdir / f"instance-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphql_api"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Service(base_url=f"http://127.0.0.1:{port}", log_path=log_path, process=process)


def _wait_healthy(instances: list[Service], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(instances)
    while waiting:
        for instance in list(waiting):
            if instance.process.poll() is not None:
                raise RuntimeError(f"an instance exited with {instance.process.returncode}:\n{instance.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{instance.base_url}/readyz", timeout=1).status_code == 200:
                    waiting.remove(instance)
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"instances not ready within {timeout}s:\n{waiting[0].log_tail()}")
        time.sleep(0.1)


def _stop(instance: Service) -> None:
    process = instance.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def run_cluster(
    workdir: Path, *, postgres: PostgresServer | None = None, instances: int = 3, startup_timeout: float = 120
) -> Iterator[Cluster]:
    """The deployment, stopped in reverse order at the end; on `postgres` (a fresh database in it) if given."""
    nginx_port = free_port()
    ports = [free_port() for _ in range(instances)]
    with contextlib.ExitStack() as stack:
        livekit = LiveKitServer(
            node_ip=node_ip_from_environment(),
            workdir=workdir / "livekit",
            webhook_urls=[f"http://127.0.0.1:{nginx_port}/webhooks/livekit"],
        )
        livekit.start()
        stack.callback(livekit.stop)
        redis = stack.enter_context(RedisServer(workdir=workdir / "redis"))
        if postgres is None:
            postgres = stack.enter_context(PostgresServer())
        database_url = postgres.create_database()
        settings = instance_settings(livekit, database_url, redis.url)
        # Once, before any instance starts, as `python -m graphql_api migrate` would (in this process: one
        # interpreter fewer to start on a loaded machine).
        migrate({**settings, "GXRTC_STATE_DIR": str(workdir / "migrate")})
        running: list[Service] = []
        instance_dir = Path(tempfile.mkdtemp(prefix="gxrtc-cluster-", dir=workdir))
        for port in ports:
            running.append(_spawn(settings, port, instance_dir))
            stack.callback(_stop, running[-1])
        _wait_healthy(running, startup_timeout)
        nginx = stack.enter_context(NginxServer(ports, max_body_bytes=MAX_BODY_BYTES, port=nginx_port))
        yield Cluster(livekit, redis, postgres, database_url, running, nginx)
