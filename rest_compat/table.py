"""The one route table of REST compat (`/api/v1`), which `tokens`, `rooms` and `participants` fill.

Each route authenticates the caller (`caller`), reads its parameters, calls one
core operation and shapes the answer; errors propagate to the app's error
handlers, which write the envelope.
"""

from __future__ import annotations

from starlette.requests import Request

from graphql_api.core.auth import Principal
from graphql_api.core.services import Core
from graphql_api.server.observe import note_principal

from .routes import Routes

__all__ = ["caller", "router"]

router = Routes(prefix="/api/v1")


async def caller(request: Request) -> tuple[Core, Principal]:
    """The core and the authenticated caller, before the parameters are read: a stranger learns nothing about them."""
    core: Core = request.app.state.core
    client = request.client.host if request.client else ""
    principal = await core.authenticator.authenticate(request.headers.get("authorization"), client)
    note_principal(request.scope, principal.uid)
    return core, principal
