"""The per-request GraphQL context: long-lived objects plus this request.

Strawberry fills in ``request``, ``response`` and ``background_tasks`` on a
`BaseContext`; the getter only adds what the resolvers need.
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from strawberry.fastapi import BaseContext

from .resolvers import Core

__all__ = ["Context", "Info"]


@dataclass(eq=False)
class Context(BaseContext):
    core: Core

    def __post_init__(self) -> None:
        super().__init__()


Info = strawberry.Info[Context, None]
