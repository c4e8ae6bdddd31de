"""`python -m graphql_api`: serve with the settings' host, port, workers and shutdown bound."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from .http import CONNECTIONS_PER_CLIENT_VARIABLE, HEADER_TIMEOUT_VARIABLE
from .settings import Settings

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own name; read here without importing it, which would fix its mode too early."""


def main() -> None:
    settings = Settings()  # type: ignore[call-arg]
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
        # answer in one write: see graphql_api.http.
        http="graphql_api.http:HttpToolsProtocol",
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
