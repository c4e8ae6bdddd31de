"""Join tokens: who may mint one for whom, for how long, publishing what.

The signing itself is `minter`'s; what a token may grant is `grants`' and `policy`'s;
whether the identity may enter the room at all (bans, a lock) is `admission`'s,
and the token says which role let it in (`admission.ADMITTED_AS`).
A token minted for someone else is an audited act; one's own (the hot path) is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import grants, policy
from .admission import ADMITTED_AS, require_admitted
from .audit import audited
from .auth import Principal
from .minter import JoinToken
from .validation import check_count, check_name

if TYPE_CHECKING:
    from .services import Core

__all__ = ["create_token"]


async def create_token(
    core: Core,
    principal: Principal,
    *,
    room: str | None,
    identity: str | None,
    name: str | None = None,
    ttl_seconds: int | None = None,
    can_publish_sources: Sequence[str] | None = None,
    hidden: bool = False,
) -> JoinToken:
    identity = check_name(identity, "identity")
    room = check_name(room, "room")
    if name:
        name = check_name(name, "name")
    if identity == principal.uid:
        # One's own token, the hot path: not an act on anyone else, so not audited.
        return await _mint(core, principal, room, identity, name, ttl_seconds, can_publish_sources, hidden)
    asked = {"name": name, "ttl_seconds": ttl_seconds, "can_publish_sources": can_publish_sources, "hidden": hidden}
    async with audited(core, principal, "create_token", room, identity, **asked):
        policy.require_token_for(principal, identity)
        return await _mint(core, principal, room, identity, name, ttl_seconds, can_publish_sources, hidden)


async def _mint(
    core: Core,
    principal: Principal,
    room: str,
    identity: str,
    name: str | None,
    ttl_seconds: int | None,
    can_publish_sources: Sequence[str] | None,
    hidden: bool,
) -> JoinToken:
    sources = grants.token_sources(principal, core.settings, hidden=hidden, asked=can_publish_sources)
    ceiling = policy.token_ttl_ceiling(principal, core.settings)
    ttl = check_count(ttl_seconds, "ttl_seconds", minimum=1, maximum=ceiling)
    mark = await require_admitted(core, principal, room, identity)
    return core.minter.mint(
        identity=identity,
        room=room,
        ttl_seconds=ttl or min(core.settings.token_ttl_seconds, ceiling),
        name=name,
        can_publish_sources=sources,
        hidden=hidden,
        attributes={ADMITTED_AS: mark} if mark is not None else None,
    )
