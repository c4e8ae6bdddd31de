"""Ending the asyncio subprocesses tests start (Node drivers, browsers): politely, then for sure."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["end"]


async def end(process: asyncio.subprocess.Process, grace: float = 10) -> None:
    """SIGTERM, up to `grace` seconds to exit, then SIGKILL; returns once the process is reaped."""
    if process.returncode is None:
        process.terminate()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
