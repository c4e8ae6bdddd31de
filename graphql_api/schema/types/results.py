"""What an act on many items answers for one of them: its error as the single act would have answered it."""

from __future__ import annotations

import strawberry

from ...errors import GxrtcError
from ...i18n import Language, localize

__all__ = ["ItemError"]


@strawberry.type(description="Why an act failed for one item: what the single act would have answered.")
class ItemError:
    code: str = strawberry.field(description="As `extensions.code` of the single act's error: NOT_FOUND, FORBIDDEN...")
    reason: str = strawberry.field(description="A short stable English reason (REST's `meta.error`).")
    message: str = strawberry.field(description="For people, in the caller's language.")

    @classmethod
    def of(cls, error: GxrtcError, language: Language) -> ItemError:
        return cls(code=error.code, reason=error.error, message=localize(error, language, {}))
