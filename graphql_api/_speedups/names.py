"""Argument names converted to camelCase once, in place of Strawberry's conversion on every call.

Strawberry's `NameConverter` converts every argument's name on every resolver
call; the names never change, so this one remembers them. The schema's SDL
and every answer are the same either way (`make schema-check`, and
tests/unit/speedups/test_lean_execute.py runs the same operations both ways).
"""

from __future__ import annotations

from strawberry.schema.name_converter import NameConverter

__all__ = ["RememberingNameConverter"]


class RememberingNameConverter(NameConverter):
    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted
