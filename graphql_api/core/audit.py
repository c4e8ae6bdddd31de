"""The audit trail: every change through either face is a row in `audit_events`, and a log line.

An operation wraps its act in `audited(core, principal, action, room, identity,
**detail)`. When the act ends, its row is written: who (uid, highest role,
credential kind), through which face and request (`request_origin`, set by the
faces at their edge), what (action, room, identity, the parameters that
matter), and how it ended ("ok", or the error's reason, as REST's
`meta.error`). Refusals (403, 404, upstream errors) are rows too.

No acknowledged act without its row: the row is written before the operation
answers, and if it cannot be, a successful act answers 503 "database
unavailable" instead (the act itself may have happened in LiveKit, which has no
transaction to join: docs/store.md). A failed act whose row cannot be written
keeps its own error; the row's loss is logged.

A change to the store commits together with its row: inside the act,

    async with audited(core, principal, "ban", room, identity, reason=reason) as act:
        policy.require_moderator(principal, room)
        async with act.transaction() as connection:
            await connection.execute(insert(bans).values(...))

inserts the "ok" row into that same transaction, so the ban and its row commit
together or neither does; if the block fails, the transaction rolls back and
the act's row records the failure instead.

`detail` holds parameters, never a token, secret or credential: callers name
what they record, and keys that name a secret are dropped here as well.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import GxrtcError
from .auth import Principal, Role
from .store import Store, audit_events

if TYPE_CHECKING:
    from .services import Core

__all__ = ["Act", "Face", "Origin", "audited", "begin_request", "highest_role", "request_origin"]

log = logging.getLogger("gxrtc.audit")

Face = Literal["rest", "graphql", "internal"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Through which face, and in which request, the current act came."""

    face: Face
    request_id: str | None = None


_INTERNAL: Final = Origin("internal")  # frozen: one shared default is safe
request_origin: ContextVar[Origin] = ContextVar("gxrtc_request_origin", default=_INTERNAL)
"""Set by each face once per request (`begin_request`); the core reads it when it records an act."""

_REQUEST_ID: Final = re.compile(r"[\x20-\x7e]{1,128}")
"""A caller's X-Request-ID we keep: printable ASCII, at most 128 characters (else we make one)."""


def begin_request(face: Face, asked: str | None) -> str:
    """Start a request's origin: the caller's request id if it is acceptable, else a new one; returns it."""
    request_id = asked if asked is not None and _REQUEST_ID.fullmatch(asked) else uuid.uuid4().hex
    request_origin.set(Origin(face, request_id))
    return request_id


_ROLE_RANK: Final = (Role.ADMIN, Role.MODERATOR, Role.USER)


def highest_role(principal: Principal) -> str:
    return next((role.value for role in _ROLE_RANK if role in principal.roles), Role.USER.value)


_SECRET_KEYS: Final = frozenset({"token", "secret", "password", "authorization", "api_key", "jwt"})


def _clean(detail: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in detail.items() if value is not None and key.lower() not in _SECRET_KEYS}


@dataclass(slots=True)
class Act:
    """One audited act: its row's fields, and whether the row is written yet."""

    store: Store
    row: dict[str, Any]
    recorded: bool = field(default=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A store transaction that commits the act's "ok" row along with whatever the block changed."""
        async with self.store.begin() as connection:
            yield connection
            await connection.execute(insert(audit_events).values(self._values("ok")))
        self.recorded = True

    async def record(self, result: str) -> None:
        """The act's row, with `result`, committed (with the rows of acts ending meanwhile) before this returns."""
        await self.store.insert_committed(audit_events, self._values(result))
        self.recorded = True

    def _values(self, result: str) -> dict[str, Any]:
        return {**self.row, "at": time.time(), "result": result}


@asynccontextmanager
async def audited(
    core: Core, principal: Principal, action: str, room: str | None, identity: str | None = None, **detail: object
) -> AsyncIterator[Act]:
    origin = request_origin.get()
    act = Act(
        core.store,
        {
            "actor": principal.uid,
            "actor_role": highest_role(principal),
            "credential": principal.via,
            "face": origin.face,
            "action": action,
            "room": room,
            "identity": identity,
            "detail": _clean(detail),
            "request_id": origin.request_id,
        },
    )
    try:
        yield act
    except GxrtcError as exc:
        await _record_failure(act, exc.error)
        raise
    except Exception:
        await _record_failure(act, "internal error")
        raise
    except BaseException:  # cancelled: no await may run now; the log line still tells
        _log(act, "cancelled")
        raise
    _log(act, "ok")
    if not act.recorded:
        # A failure here is the caller's 503: the act is not acknowledged without its row.
        await act.record("ok")


async def _record_failure(act: Act, result: str) -> None:
    _log(act, result)
    if act.recorded:
        return
    try:
        await act.record(result)
    except GxrtcError:
        log.warning("the audit row of a failed %s could not be written", act.row["action"])


def _log(act: Act, result: str) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    row = act.row
    record = {
        "who": row["actor"],
        "via": row["credential"],
        "face": row["face"],
        "request_id": row["request_id"],
        "action": row["action"],
        "room": row["room"],
        "identity": row["identity"],
        "result": result,
        **row["detail"],
    }
    log.info(_json(record))


def _json(record: dict[str, object]) -> str:
    # orjson writes the line json.dumps(ensure_ascii=False, compact separators) writes, several times faster;
    # what it refuses (a lone surrogate, an integer past 64 bits) json still writes.
    try:
        return orjson.dumps(record).decode()
    except TypeError:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
