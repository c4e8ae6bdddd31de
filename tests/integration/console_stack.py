"""What the console's browser tests share (test_console.py, test_console_moderation.py): a real LiveKit whose
webhooks reach the service serving /console, and a browser whose page must load nothing from elsewhere and log
no error (a Content-Security-Policy violation, an uncaught exception) while a test drives it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.harness.console_browser import ADMIN_KEY, JWT_SECRET, RECONCILE_SECONDS, Browser, Stack
from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.ports import free_port
from tests.harness.service import run_service
from tests.integration.conftest import service_settings


@contextlib.contextmanager
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-console"),
        webhook_urls=[f"http://127.0.0.1:{port}/webhooks/livekit"],
    )
    livekit.start()
    try:
        settings = service_settings(
            livekit,
            GXRTC_ADMIN_KEY=ADMIN_KEY,
            GXRTC_AUTH_JWT_SECRET=JWT_SECRET,
            # Signal-only participants never become active, and LiveKit sends no webhook for their
            # joins: only the reconciler's comparison announces them.
            GXRTC_RECONCILE_INTERVAL_SECONDS=str(RECONCILE_SECONDS),
        )
        with run_service(settings, port=port) as service:
            yield Stack(livekit, service)
    finally:
        livekit.stop()


@contextlib.asynccontextmanager
async def checked_browser(stack: Stack) -> AsyncIterator[Browser]:
    async with Browser.run(stack.console_url) as running:
        yield running
        problems = (await running.do("problems"))["problems"]
        assert not running.offsite, f"the console loaded something from elsewhere: {running.offsite}"
        # A Content-Security-Policy violation or an uncaught error shows up in the page's console.
        assert not problems, problems
