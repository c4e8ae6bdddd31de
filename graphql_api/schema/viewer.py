"""`viewer`: who the caller is and what the policy lets it do, for frontends such as the console.

A frontend that offers only what its user may do has to know the caller's role and rooms; asking
the policy's own functions here (rather than copying their rules into the frontend) keeps one
answer to each decision. Any authenticated caller may ask about itself.
"""

from __future__ import annotations

import strawberry

from ..core.auth import Principal
from ..core.policy import readable_rooms, require_token_for
from ..errors import Forbidden
from .context import Info

__all__ = ["Viewer", "ViewerQuery", "describe"]


@strawberry.type(description="The caller, as the service authenticated it, and what it may do.")
class Viewer:
    uid: str
    roles: list[str] = strawberry.field(description="Sorted role names: user, moderator, admin.")
    via: str = strawberry.field(description="How the caller authenticated: jwt, api_key or anonymous (dev only).")
    readable_rooms: list[str] | None = strawberry.field(
        description="The rooms the caller may read and follow; null for every room."
    )
    moderated_rooms: list[str] | None = strawberry.field(
        description="The rooms the caller may create, delete and moderate; null for every room."
    )
    mints_for_anyone: bool = strawberry.field(
        description="Whether the caller may mint join tokens for any identity (otherwise only for its own uid)."
    )


def _mints_for_anyone(principal: Principal) -> bool:
    # An identity no caller can hold: only a caller who may mint for anyone passes.
    try:
        require_token_for(principal, "\x00")
    except Forbidden:
        return False
    return True


def describe(principal: Principal, readable: frozenset[str] | None) -> Viewer:
    moderated = None if principal.is_admin else sorted(room for room in principal.rooms if principal.moderates(room))
    return Viewer(
        uid=principal.uid,
        roles=sorted(principal.roles),
        via=principal.via,
        readable_rooms=None if readable is None else sorted(readable),
        moderated_rooms=moderated,
        mints_for_anyone=_mints_for_anyone(principal),
    )


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="Who the caller is and what it may do; any authenticated caller may ask.")
    async def viewer(self, info: Info) -> Viewer:
        core, principal = await info.context.caller()
        return describe(principal, readable_rooms(principal, core.settings))
