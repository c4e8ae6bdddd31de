"""The moderation console's built files at `/console`, under a strict Content-Security-Policy.

The console (sources in `console/`, built by `make setup` into `console/dist/`) is a single-page
app that talks to this service's GraphQL face and nothing else, so its policy allows scripts,
styles and connections from this origin only: no inline script, no CDN, no framing. Every path
under `/console` that is not a built file gets the page itself, so the app's own paths survive a
reload. When nothing is built, the page says how to build it.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["PREFIX", "content_security_policy", "default_console_dir", "routes"]

PREFIX = "/console"
# A host as browsers send it: a name or an IPv4/IPv6 address, an optional port.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_NOT_BUILT = (
    "The console is not built. Run `make setup` (it needs Node.js and npm: `npm ci` and `npm run build` in console/),"
    " then reload this page.\n"
)


def default_console_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "console" / "dist"


def content_security_policy(host: str | None) -> str:
    """Only this origin: its scripts, styles and images, and its own HTTP and WebSocket endpoints."""
    connect = "'self'"
    if host and _HOST.match(host):
        # CSP Level 2 browsers do not let 'self' cover ws(s): name the same host for the subscriptions.
        connect += f" ws://{host} wss://{host}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
        f" connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(request: Request) -> dict[str, str]:
    return {
        "content-security-policy": content_security_policy(request.headers.get("host")),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
    }


def routes(directory: Path) -> list[Route]:
    """`/console`, `/console/` and everything under it, from `directory` (the build's output)."""
    root = directory.resolve()

    async def serve(request: Request) -> Response:
        headers = _headers(request)
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse(_NOT_BUILT, status_code=503, headers=headers)
        wanted = request.path_params.get("path", "")
        candidate = (root / wanted).resolve()
        if wanted and candidate.is_relative_to(root) and candidate.is_file():
            # Vite names built assets by their content hash: they never change under one name.
            if candidate.parent.name == "assets":
                headers["cache-control"] = "public, max-age=31536000, immutable"
            return FileResponse(candidate, headers=headers)
        if wanted.startswith("assets/"):
            return PlainTextResponse("no such file\n", status_code=404, headers=headers)
        headers["cache-control"] = "no-cache"
        return FileResponse(index, headers=headers, media_type="text/html")

    return [
        Route(PREFIX, serve, methods=["GET", "HEAD"]),
        Route(PREFIX + "/", serve, methods=["GET", "HEAD"]),
        Route(PREFIX + "/{path:path}", serve, methods=["GET", "HEAD"]),
    ]
