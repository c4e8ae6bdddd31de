"""`GET /metrics`: the service's metrics in Prometheus' text format, for the admin credential only.

On the main port rather than a port of its own: with several workers each
would need one (or one worker would serve the others' files), and a second
listener is one more thing to firewall. Behind the admin credential (an API
key in `GXRTC_API_KEYS` with the admin role, given to Prometheus as its scrape
`authorization`), because request rates, error classes and LiveKit's health
are worth something to an attacker; in dev without authentication every
caller is an admin, so it is open there. Authenticated first, through the same
authenticator and brake as every other call, before any work is done.
`GXRTC_METRICS=false` removes the route (404).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from ..core.metrics import exposition
from ..core.policy import require_metrics_reader
from ..core.services import Core
from .observe import note_principal
from .request_metrics import recorder

__all__ = ["metrics"]


async def metrics(request: Request) -> Response:
    core: Core = request.app.state.core
    client = request.client.host if request.client else ""
    principal = await core.authenticator.authenticate(request.headers.get("authorization"), client)
    note_principal(request.scope, principal.uid)
    require_metrics_reader(principal)
    # The requests recorded since the last flush, this worker's at least, before anything is read.
    recorder().flush()
    # Several workers' values are read from files: off the event loop.
    body, content_type = await asyncio.to_thread(exposition)
    return Response(body, media_type=content_type)
