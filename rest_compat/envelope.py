"""The API document's envelope: ``{"meta": {"code": C, ...}, "data": {...}}``.

``meta.code`` always equals the HTTP status. Errors carry ``meta.message``
for people and ``meta.error``, a short English reason that programs can match.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from graphql_api.errors import GxrtcError
from graphql_api.i18n import Language, localize

__all__ = ["PARAM_ALIASES", "EnvelopeResponse", "error", "from_error", "ok"]

# The core names parameters as GraphQL does; the document names some of them otherwise.
PARAM_ALIASES = {
    "identity": "uid",
    "attributes": "attrs",
    "duration_seconds": "duration",
    "after": "cursor",
    "first": "limit",
}


class EnvelopeResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: dict[str, Any] | None = None) -> EnvelopeResponse:
    body: dict[str, Any] = {"meta": {"code": 200}}
    if data is not None:
        body["data"] = data
    return EnvelopeResponse(body)


def error(
    status: int, message: str, reason: str | None = None, headers: Mapping[str, str] | None = None
) -> EnvelopeResponse:
    meta: dict[str, Any] = {"code": status, "message": message}
    if reason:
        meta["error"] = reason
    return EnvelopeResponse({"meta": meta}, status_code=status, headers=headers)


def from_error(exc: GxrtcError, language: Language) -> EnvelopeResponse:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return error(exc.status, localize(exc, language, PARAM_ALIASES), exc.error, headers=headers or None)
