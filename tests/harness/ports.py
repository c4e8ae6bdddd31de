"""Free TCP ports for the servers the harness starts (LiveKit, Redis, PostgreSQL, Prometheus, the service)."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now at `host` (the kernel's pick; a server started next is likely to get it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
