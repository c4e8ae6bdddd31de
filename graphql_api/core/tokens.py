"""Join tokens: who may mint one for whom, for how long, publishing what.

The signing itself is `minter`'s; what a token may grant is `grants`' and `policy`'s;
whether the identity may enter the room at all (bans, a lock) is `admission`'s,
and the token says which role let it in (`admission.ADMITTED_AS`).
A token may carry the participant's initial `metadata` and `attributes`, bounded
as `participants.update_participant` bounds them, and only where the caller could
set them on the participant afterwards: moderators of the room and admins
(`policy.require_moderator`, the same decision as `updateParticipant`'s).
While a room is muted all in strict mode, a token for an identity it does not
except cannot publish the muted sources (`mute_all`).
A token minted for someone else is an audited act; one's own (the hot path) is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import grants, policy
from .admission import ADMITTED_AS, require_admitted, room_rules
from .audit import audited
from .auth import Principal
from .minter import JoinToken
from .participants import check_attributes
from .validation import check_count, check_name, check_text

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
    metadata: str | None = None,
    attributes: Any = None,
) -> JoinToken:
    identity = check_name(identity, "identity")
    room = check_name(room, "room")
    if name:
        name = check_name(name, "name")
    info = (
        _NO_INFO
        if metadata is None and attributes is None
        else _Info(
            metadata=check_text(metadata, "metadata", core.settings.max_metadata_bytes)
            if metadata is not None
            else None,
            attributes=check_attributes(attributes, core.settings) if attributes is not None else None,
        )
    )
    if identity == principal.uid and info.empty:
        # One's own plain token, the hot path: not an act on anyone else, so not audited.
        return await _mint(core, principal, room, identity, name, ttl_seconds, can_publish_sources, hidden, info)
    asked = {
        "name": name,
        "ttl_seconds": ttl_seconds,
        "can_publish_sources": can_publish_sources,
        "hidden": hidden,
        "metadata_bytes": len(info.metadata.encode()) if info.metadata else None,
        "attributes": sorted(info.attributes) if info.attributes else None,
    }
    async with audited(core, principal, "create_token", room, identity, **asked):
        policy.require_token_for(principal, identity)
        if not info.empty:
            policy.require_moderator(principal, room)
        return await _mint(core, principal, room, identity, name, ttl_seconds, can_publish_sources, hidden, info)


class _Info:
    """What a token may say of its participant besides its name: its initial metadata and attributes."""

    __slots__ = ("attributes", "metadata")

    def __init__(self, *, metadata: str | None, attributes: dict[str, str] | None) -> None:
        self.metadata = metadata or None
        self.attributes = attributes or None

    @property
    def empty(self) -> bool:
        return self.metadata is None and self.attributes is None


_NO_INFO = _Info(metadata=None, attributes=None)


async def _mint(
    core: Core,
    principal: Principal,
    room: str,
    identity: str,
    name: str | None,
    ttl_seconds: int | None,
    can_publish_sources: Sequence[str] | None,
    hidden: bool,
    info: _Info,
) -> JoinToken:
    sources = grants.token_sources(principal, core.settings, hidden=hidden, asked=can_publish_sources)
    ceiling = policy.token_ttl_ceiling(principal, core.settings)
    ttl = check_count(ttl_seconds, "ttl_seconds", minimum=1, maximum=ceiling)
    mark = await require_admitted(core, principal, room, identity)
    rules = core.rules.fresh(room) or await room_rules(core, room)  # read just now by admission
    withheld = rules.mute_all.withholds(identity) if rules.mute_all is not None else frozenset()
    if withheld:
        sources = grants.withhold(sources, withheld)
    return core.minter.mint(
        identity=identity,
        room=room,
        ttl_seconds=ttl or min(core.settings.token_ttl_seconds, ceiling),
        name=name,
        can_publish_sources=sources,
        hidden=hidden,
        attributes={**(info.attributes or {}), **({ADMITTED_AS: mark} if mark is not None else {})} or None,
        metadata=info.metadata,
        can_publish=not withheld or sources != [],  # LiveKit reads an empty list as any source
    )
