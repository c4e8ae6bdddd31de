"""`python -m graphql_api`: serve with the settings' host, port, workers and shutdown bound.

`python -m graphql_api migrate` upgrades the store's schema to the code's and exits.

Several workers are several instances (docs/workers.md): what they must share (room events, webhook
de-duplication, the reconciler's leases, the brake on failed authentications) goes through Redis, so
`GXRTC_WORKERS` > 1 without `GXRTC_REDIS_URL` is refused rather than started to lose events.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import uvicorn

from .core.store import Store, migrate
from .server.http import CONNECTIONS_PER_CLIENT_VARIABLE, HEADER_TIMEOUT_VARIABLE
from .settings import Settings

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own name; read here without importing it, which would fix its mode too early."""

WORKERS_NEED_REDIS = (
    "refusing to start: GXRTC_WORKERS={workers} needs GXRTC_REDIS_URL (several workers share events, "
    "leases and limits through Redis; see docs/workers.md)"
)


async def _prepare(settings: Settings, *, upgrade: bool) -> None:
    if settings.database_url is None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.store_url, timeout_seconds=settings.database_timeout_seconds)
    try:
        await migrate.prepare(store, dev=upgrade)
    finally:
        await store.aclose()


def main() -> None:
    settings = Settings()  # type: ignore[call-arg]
    if sys.argv[1:] == ["migrate"]:
        asyncio.run(_prepare(settings, upgrade=True))
        print(f"the store's schema is at revision {migrate.HEAD}")
        return
    if sys.argv[1:]:
        sys.exit(f"usage: python -m graphql_api [migrate]; not {' '.join(sys.argv[1:])!r}")
    if settings.workers > 1 and not settings.redis_url:
        sys.exit(WORKERS_NEED_REDIS.format(workers=settings.workers))
    try:
        # Once, before the workers start: in dev each would otherwise race the others to make the tables,
        # and in production a schema behind the code is one clear line rather than a worker's traceback.
        asyncio.run(_prepare(settings, upgrade=settings.env == "dev"))
    except migrate.SchemaMismatch as exc:
        sys.exit(str(exc))
    # For the protocol in every worker, whether the setting came from the environment or a .env file.
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.header_timeout_seconds)
    os.environ[CONNECTIONS_PER_CLIENT_VARIABLE] = str(settings.max_connections_per_client)
    if settings.workers > 1:
        _share_metrics()
    uvicorn.run(
        "graphql_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # asyncio's own loop: uvloop gave a long tail when clients connected together (docs/performance.md).
        loop="asyncio",
        # httptools, with Nagle off, limits on heads and connections, and (with the speed-ups) each
        # answer in one write: see graphql_api.server.http.
        http="graphql_api.server.http:HttpToolsProtocol",
        # Access logs cost much of the token path's throughput; the audit log records what matters.
        access_log=False,
        # uvicorn's own default is 16 MiB a message, far past the body cap; bigger frames close the socket (1009).
        ws_max_size=settings.max_websocket_message_bytes,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        lifespan="on",
    )


def _share_metrics() -> None:
    """prometheus-client's multiprocess mode: every worker keeps its metrics in files in one directory,
    and whichever worker answers /metrics adds them up (graphql_api.core.metrics). Set before any worker
    imports prometheus-client, which reads it once; emptied at start, so a previous run's counters do not
    carry over (docs/operations.md)."""
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="gxrtc-metrics-"))
    if given and directory.is_dir():
        for stale in directory.glob("*.db"):
            stale.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(directory)
    if not given:
        atexit.register(shutil.rmtree, directory, ignore_errors=True)


if __name__ == "__main__":
    main()
