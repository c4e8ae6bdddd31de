"""GraphiQL's scripts and styles, served by the service rather than fetched from unpkg.com.

Strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from
unpkg.com; opening GraphiQL on a dev service made the browser fetch code from
the internet. The page keeps its Subresource Integrity hashes and points at
copies under `/graphiql-assets/`, which `make setup` (`dev/install_graphiql.py`)
takes from the npm registry into the cache and checks against those hashes.
Dev only: production serves no GraphiQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

from starlette.staticfiles import StaticFiles

__all__ = ["CDN_ASSET", "PREFIX", "assets_app", "local_page", "matches_integrity"]

PREFIX = "/graphiql-assets"
# src="https://unpkg.com/<package>@<version>/<path>" integrity="<algorithm>-<base64>"
CDN_ASSET = re.compile(r'"https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([^"]+)"\s+integrity="([^"]+)"')
_CDN = re.compile(r"https://unpkg\.com/")


def local_page(page: str) -> str:
    """Strawberry's page with every unpkg.com address pointing at the service's copy."""
    return _CDN.sub(PREFIX + "/", page)


def matches_integrity(data: bytes, integrity: str) -> bool:
    """Whether `data` has the Subresource Integrity value `integrity` (`sha384-<base64>`)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha256", "sha384", "sha512"):
        return False
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    return hmac.compare_digest(actual, expected)


def assets_app(directory: Path) -> StaticFiles:
    return StaticFiles(directory=directory, check_dir=False)
