"""`python -m graphql_api`: serve with the settings' host, port, workers and shutdown bound."""

from __future__ import annotations

import os

import uvicorn

from .http import CONNECTIONS_PER_CLIENT_VARIABLE, HEADER_TIMEOUT_VARIABLE
from .settings import Settings


def main() -> None:
    settings = Settings()  # type: ignore[call-arg]
    # For the protocol in every worker, whether the setting came from the environment or a .env file.
    os.environ[HEADER_TIMEOUT_VARIABLE] = str(settings.header_timeout_seconds)
    os.environ[CONNECTIONS_PER_CLIENT_VARIABLE] = str(settings.max_connections_per_client)
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


if __name__ == "__main__":
    main()
