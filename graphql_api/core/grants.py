"""What a caller may grant: one ceiling per role, shared by minting tokens and changing permissions.

A join token that says nothing else gets LiveKit's default grants: publish
(any source), subscribe and data. Every role may mint those, a plain user's
sources within `user_publish_sources`; only an admin mints anything beyond them
(hidden participants today). A permission change is a grant too, so it may
turn on only what the caller could have minted: no role gets through
`updateParticipantPermissions`, REST `/permissions` or `/info` (hidden,
recorder, agent, metrics, own metadata...) what `createToken` refuses it.
Taking a grant away is moderation, and not limited here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from livekit.protocol import models

from ..errors import Forbidden, InvalidParameter
from ..settings import Settings
from .auth import Principal, Role
from .permissions import merge_permission
from .vocabulary import PERMISSION_SWITCHES, TRACK_SOURCES

__all__ = ["SOURCE_NAMES", "Ceiling", "ceiling", "require_grantable", "token_sources", "withhold"]

SOURCE_NAMES: Final = TRACK_SOURCES
"""The sources a token may let its holder publish, as token claims name them."""

_SWITCHES: Final = PERMISSION_SWITCHES
"""Every on/off grant of LiveKit's ParticipantPermission, new ones included as LiveKit adds them."""
_DEFAULT_SWITCHES: Final = frozenset({"can_subscribe", "can_publish", "can_publish_data"})
"""What LiveKit grants a join token that asks for nothing else."""


@dataclass(frozen=True, slots=True)
class Ceiling:
    switches: frozenset[str]
    """The ParticipantPermission switches the caller may turn on."""
    sources: frozenset[str]
    """The sources the caller may let a participant publish."""


def ceiling(principal: Principal, settings: Settings) -> Ceiling:
    if principal.is_admin:
        return Ceiling(frozenset(_SWITCHES), frozenset(SOURCE_NAMES))
    if Role.MODERATOR in principal.roles:
        return Ceiling(_DEFAULT_SWITCHES, frozenset(SOURCE_NAMES))
    return Ceiling(_DEFAULT_SWITCHES, frozenset(settings.user_publish_sources))


def token_sources(
    principal: Principal, settings: Settings, *, hidden: bool, asked: Sequence[str] | None
) -> list[str] | None:
    """A token's publish sources (None: no restriction, which keeps the claims exactly the document's).

    Raises Forbidden for what the caller's role may not mint.
    """
    limit = ceiling(principal, settings)
    if hidden and "hidden" not in limit.switches:
        raise Forbidden("only an admin may mint hidden participants")
    if asked is None:
        return None if limit.sources == set(SOURCE_NAMES) else sorted(limit.sources)
    wanted = [source.lower() for source in asked]
    unknown = [source for source in wanted if source not in SOURCE_NAMES]
    if unknown:
        raise InvalidParameter("can_publish_sources", f"has unknown sources {unknown}; use {list(SOURCE_NAMES)}")
    if not set(wanted) <= limit.sources:
        raise Forbidden(f"your role may publish only {sorted(limit.sources)}")
    return wanted


def withhold(sources: list[str] | None, withheld: frozenset[str]) -> list[str]:
    """A token's publish sources (None: any) without `withheld`; an empty list publishes nothing."""
    return [source for source in (SOURCE_NAMES if sources is None else sources) if source not in withheld]


def require_grantable(principal: Principal, settings: Settings, patch: Mapping[str, Any]) -> None:
    """Refuse a permission patch that turns on what the caller could not have minted.

    Asked of the patch itself, before LiveKit is asked anything: setting a grant
    beyond the role's ceiling is refused whatever the participant has now.
    """
    limit = ceiling(principal, settings)
    asked = merge_permission(models.ParticipantPermission(), patch)  # also checks the patch (400s)
    for switch in _SWITCHES:
        if getattr(asked, switch) and switch not in limit.switches:
            raise Forbidden(f"your role may not grant {switch}")
    if "can_publish_sources" in patch and not _publishable(asked) <= limit.sources:
        raise Forbidden(f"your role may let participants publish only {sorted(limit.sources)}")


def _publishable(permission: models.ParticipantPermission) -> frozenset[str]:
    # LiveKit reads an empty list as "any source".
    if not permission.can_publish_sources:
        return frozenset(SOURCE_NAMES)
    return frozenset(models.TrackSource.Name(source).lower() for source in permission.can_publish_sources)
