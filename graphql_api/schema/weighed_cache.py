"""A least-recently-used cache bounded by the total weight of its entries as well as by their number.

`functools.lru_cache` bounds entries only: keyed by query text, 1,024 cached
documents could be 1,024 of the longest queries anyone cares to send, each
kept with its parsed tree. Here every entry also has a weight (for a GraphQL
document, its text's length, which the size of its parsed tree follows), and
the least recently used entries are dropped until the total fits. An entry
heavier than the whole budget is computed and returned, never kept.
Exceptions are not cached, as with lru_cache.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["WeighedCache"]

V = TypeVar("V")


class WeighedCache(Generic[V]):
    def __init__(
        self,
        compute: Callable[..., V],
        *,
        max_entries: int,
        max_weight: int,
        weigh: Callable[..., int],
    ) -> None:
        self._compute = compute
        self._weigh = weigh
        self.max_entries = max_entries
        self.max_weight = max_weight
        self.weight = 0
        self._entries: dict[tuple[Hashable, ...], tuple[V, int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, *key: Hashable) -> V:
        entries = self._entries
        entry = entries.pop(key, None)
        if entry is not None:
            entries[key] = entry  # now the most recently used
            return entry[0]
        value = self._compute(*key)
        weight = self._weigh(*key)
        if weight > self.max_weight:
            return value
        self.weight += weight
        entries[key] = (value, weight)
        while len(entries) > self.max_entries or self.weight > self.max_weight:
            oldest = next(iter(entries))
            self.weight -= entries.pop(oldest)[1]
        return value
