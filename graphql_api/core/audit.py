"""One structured log line for every room change and moderation act.

Written to the `gxrtc.audit` logger as JSON, so operators can ship it apart
from the application log: who did what, to which room and identity, and how
it ended.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import GxrtcError
from .auth import Principal

__all__ = ["audited"]

log = logging.getLogger("gxrtc.audit")


@asynccontextmanager
async def audited(
    principal: Principal, action: str, room: str, identity: str | None = None, **detail: object
) -> AsyncIterator[None]:
    result = "ok"
    try:
        yield
    except GxrtcError as exc:
        result = exc.error
        raise
    except BaseException:
        result = "internal error"
        raise
    finally:
        record = {
            "who": principal.uid,
            "via": principal.via,
            "action": action,
            "room": room,
            "identity": identity,
            "result": result,
            **detail,
        }
        log.info(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
