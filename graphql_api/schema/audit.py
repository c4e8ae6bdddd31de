"""`auditLog`: the audit trail as a Relay-style connection (newest first), read through `core.audit_log`.

Who may read which rows is the core's (`policy.audit_rooms`): admins every row,
moderators their rooms' rows, users none (FORBIDDEN).
"""

from __future__ import annotations

import datetime

import strawberry
from strawberry.scalars import JSON

from ..core.audit_log import AuditEvent as AuditRow
from ..core.audit_log import audit_log
from .context import Info
from .paging import PageInfo

__all__ = ["AuditEvent", "AuditEventConnection", "AuditQuery"]


@strawberry.type(description="One act through either face: who did what, where, and how it ended.")
class AuditEvent:
    id: strawberry.ID
    at: datetime.datetime
    actor: str = strawberry.field(description="The caller's uid.")
    actor_role: str = strawberry.field(description="The caller's highest role: admin, moderator or user.")
    credential: str = strawberry.field(description="How the caller authenticated: jwt, api_key or anonymous.")
    face: str = strawberry.field(description="rest or graphql (internal: the service's own acts).")
    action: str
    room: str | None
    identity: str | None
    detail: JSON = strawberry.field(description="The parameters that matter; never a token or a secret.")
    result: str = strawberry.field(description="\"ok\", or the error's reason (REST's meta.error).")
    request_id: str | None

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEvent:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=datetime.datetime.fromtimestamp(row.at, tz=datetime.UTC),
            actor=row.actor,
            actor_role=row.actor_role,
            credential=row.credential,
            face=row.face,
            action=row.action,
            room=row.room,
            identity=row.identity,
            detail=JSON(row.detail),
            result=row.result,
            request_id=row.request_id,
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


def _seconds(moment: datetime.datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)).timestamp()


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="The audit trail, newest first, filters combined; admins read every row, moderators their "
        "rooms' rows. `first` is at most 500 (default 50); `after` is a cursor from an earlier page."
    )
    async def audit_log(
        self,
        info: Info,
        room: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime.datetime | None = None,
        until: datetime.datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AuditEventConnection:
        core, principal = await info.context.caller()
        page = await audit_log(
            core,
            principal,
            room=room,
            actor=actor,
            action=action,
            since=_seconds(since),
            until=_seconds(until),
            first=first,
            after=after,
        )
        edges = [AuditEventEdge(cursor=event.cursor, node=AuditEvent.from_row(event)) for event in page.events]
        return AuditEventConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.next_cursor is not None, end_cursor=page.next_cursor),
        )
