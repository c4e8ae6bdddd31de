"""Who a caller is once authenticated: a uid, roles and the rooms it moderates."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final, Literal


class Role(enum.StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    uid: str
    roles: frozenset[Role]
    rooms: frozenset[str] = frozenset()
    """The rooms a moderator runs."""
    via: Literal["jwt", "api_key", "anonymous"] = "jwt"
    expires_at: float | None = field(default=None, compare=False)
    """When the credential stops being valid (Unix seconds, leeway included); None when it does not expire."""

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def moderates(self, room: str) -> bool:
        return Role.ADMIN in self.roles or (Role.MODERATOR in self.roles and room in self.rooms)


OPEN_ACCESS: Final = Principal(uid="anonymous", roles=frozenset({Role.ADMIN}), via="anonymous")
"""Who everyone is when no authentication is configured; the app allows that only in dev."""

_ROLE_BY_NAME: Final = {role.value: role for role in Role}
_SINGLE_ROLE: Final = {role.value: frozenset({role}) for role in Role}
_PLAIN_USER: Final = _SINGLE_ROLE[Role.USER]
