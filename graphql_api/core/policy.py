"""Who may do what. Every operation asks here before it touches LiveKit.

- user: mints tokens for its own uid only; reads rooms and participants only
  where `users_can_read` opens that to users.
- moderator: a user, plus creating, reading and deleting the rooms in its
  `rooms` claim and moderating their participants.
- admin: everything, tokens for any uid included, and bans on every room.

Bans and locks are moderation (`require_moderator`); whether someone may be
in a room given them is `admission.refusal`'s one decision.

The audit trail (`audit_rooms`): an admin reads every row, a moderator the rows
of the rooms it runs, a user none.

Each decision has one function here, and every path to it asks that function:
a room listing, a nested `Room.participants`, a single read and a subscription
all ask `readable_rooms` (through `require_reader`), so no path can read what
another refuses. A `rooms` claim means something only to a moderator.
What a caller may grant (token claims, permission changes) is in `grants`.
"""

from __future__ import annotations

from ..errors import Forbidden
from ..settings import Settings
from .auth import Principal, Role

__all__ = [
    "audit_rooms",
    "readable_rooms",
    "require_admin",
    "require_metrics_reader",
    "require_moderator",
    "require_reader",
    "require_token_for",
    "token_ttl_ceiling",
]


def require_token_for(principal: Principal, identity: str) -> None:
    if principal.is_admin or principal.uid == identity:
        return
    raise Forbidden("you may mint tokens only for your own uid")


def require_moderator(principal: Principal, room: str) -> None:
    if not principal.moderates(room):
        raise Forbidden(f"you do not moderate room {room}")


def require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"only an admin may {what}")


def readable_rooms(principal: Principal, settings: Settings) -> frozenset[str] | None:
    """The rooms the caller may read and follow; None means every room."""
    if principal.is_admin or settings.users_can_read:
        return None
    if Role.MODERATOR in principal.roles:
        return principal.rooms
    return frozenset()


def require_reader(principal: Principal, settings: Settings, room: str) -> None:
    readable = readable_rooms(principal, settings)
    if readable is None or room in readable:
        return
    raise Forbidden(f"you may not read room {room}")


def require_metrics_reader(principal: Principal) -> None:
    """The service's metrics (/metrics) are the operators': request rates and LiveKit's health, every room's."""
    if not principal.is_admin:
        raise Forbidden("only an admin may read the service's metrics")


def token_ttl_ceiling(principal: Principal, settings: Settings) -> int:
    if principal.is_admin or Role.MODERATOR in principal.roles:
        return settings.token_max_ttl_seconds
    return min(settings.token_user_max_ttl_seconds, settings.token_max_ttl_seconds)


def audit_rooms(principal: Principal, room: str | None) -> frozenset[str] | None:
    """The rooms whose audit rows the caller may read, asking for `room` (None: all it may); None means every row."""
    if principal.is_admin:
        return None if room is None else frozenset({room})
    if Role.MODERATOR not in principal.roles:
        raise Forbidden("you may not read the audit trail")
    if room is None:
        return principal.rooms
    if room not in principal.rooms:
        raise Forbidden(f"you may not read the audit trail of room {room}")
    return frozenset({room})
