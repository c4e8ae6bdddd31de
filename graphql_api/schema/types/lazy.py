"""Types converted from LiveKit's messages field by field, on first read.

`rooms { participants { identity } }` lists hundreds of participants; converting
their tracks, permissions and enums up front cost more than the rest of the
query. `convert_lazily(cls, fields)` puts a `FromProto` descriptor on each field
of a Strawberry type made by its `from_proto`, holding the message in `_proto`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FromProto", "convert_lazily"]


class FromProto:
    """A field of a type made by `from_proto`, converted from the proto when first read.

    A non-data descriptor: a value in the instance's __dict__ (set by __init__, or by
    the first read) wins over it, so every later read is a plain attribute lookup.
    """

    __slots__ = ("_convert", "_name")

    def __init__(self, name: str, convert: Callable[[Any], object]) -> None:
        self._name = name
        self._convert = convert

    def __get__(self, instance: object, owner: type | None = None) -> object:
        if instance is None:
            return self
        fields = instance.__dict__
        value = fields[self._name] = self._convert(fields["_proto"])
        return value


def convert_lazily(cls: type, fields: dict[str, Callable[[Any], object]]) -> None:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    names = {field.python_name for field in definition.fields if field.base_resolver is None}
    if names != set(fields):
        raise TypeError(f"{cls.__name__}: fields {sorted(names ^ set(fields))} need exactly one converter each")
    for name, convert in fields.items():
        setattr(cls, name, FromProto(name, convert))
