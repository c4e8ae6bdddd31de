"""Reading the audit trail: `audit_log`, newest first, one page at a time.

Keyset pagination on the row id (descending), so a page costs one index range
scan whatever the page's depth, and rows written while a client pages never
make it see a row twice or skip one it has not seen. The cursor is opaque to
clients (the id's 8 bytes in base64url) and checked: a string that is not of
that form is a 400 naming `after`; one that is names a position, and the
policy decides as always which rows past it the caller reads. Who may read which rows is `policy.audit_rooms`.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from ..errors import InvalidParameter
from . import policy
from .auth import Principal
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .store import audit_events
from .validation import check_count, check_name

if TYPE_CHECKING:
    from .services import Core

__all__ = ["CURSOR_PATTERN", "AuditEvent", "AuditPage", "audit_log", "cursor_of"]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: float
    actor: str
    actor_role: str
    credential: str
    face: str
    action: str
    room: str | None
    identity: str | None
    detail: dict[str, Any]
    result: str
    request_id: str | None

    @property
    def cursor(self) -> str:
        return cursor_of(self.id)


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None
    """Where the next (older) page starts; None when this one is the last."""


CURSOR_PATTERN: Final = r"^[A-Za-f][A-Za-z0-9_-]{9}[AEIMQUYcgkosw048]=$"
"""Every cursor, and only cursors: a row id (a positive 64-bit signed integer) in 8 bytes, base64url."""
_CURSOR: Final = re.compile(CURSOR_PATTERN)


def cursor_of(row_id: int) -> str:
    return base64.urlsafe_b64encode(row_id.to_bytes(8, "big")).decode()


def _row_id(cursor: str) -> int:
    # Whatever matches is a position in the trail (rows before it); anything else was not made here.
    if not _CURSOR.fullmatch(cursor):
        raise InvalidParameter("after", "is not a cursor this service gave")
    return int.from_bytes(base64.urlsafe_b64decode(cursor), "big")


def _check_time(value: float | None, param: str) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise InvalidParameter(param, "must be Unix seconds")
    return value


async def audit_log(
    core: Core,
    principal: Principal,
    *,
    room: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: float | None = None,
    until: float | None = None,
    first: int | None = None,
    after: str | None = None,
) -> AuditPage:
    """The rows the caller may read that match every filter given, newest first; `since` and `until` inclusive."""
    if room is not None:
        room = check_name(room, "room")
    if actor is not None:
        actor = check_name(actor, "actor")
    if action is not None:
        action = check_name(action, "action")
    since = _check_time(since, "since")
    until = _check_time(until, "until")
    limit = check_count(first, "first", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    before = _row_id(after) if after is not None else None
    rooms = policy.audit_rooms(principal, room)
    if rooms is not None and not rooms:
        return AuditPage([], None)

    table = audit_events.c
    query = select(audit_events).order_by(table.id.desc()).limit(limit + 1)
    if rooms is not None:
        query = query.where(table.room == next(iter(rooms)) if len(rooms) == 1 else table.room.in_(sorted(rooms)))
    if actor is not None:
        query = query.where(table.actor == actor)
    if action is not None:
        query = query.where(table.action == action)
    if since is not None:
        query = query.where(table.at >= since)
    if until is not None:
        query = query.where(table.at <= until)
    if before is not None:
        query = query.where(table.id < before)
    async with core.store.begin(writes=False) as connection:
        rows = (await connection.execute(query)).mappings().all()
    events = [AuditEvent(**row) for row in rows[:limit]]
    return AuditPage(events, events[-1].cursor if len(rows) > limit else None)
