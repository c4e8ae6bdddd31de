"""The speed-ups' `execute` answers exactly as Strawberry's own `execute` does, errors and refusals included.

Each operation runs through two schemas built from the same types and checks:
one with the speed-ups (lean execute, one-field plans, leaf executor, direct
resolvers, remembered names), one with `speedups=False`, which is what
`GXRTC_SPEEDUPS=off` builds (Strawberry's path, our checks in its hooks).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql.validation import specified_rules
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from graphql_api.errors import InvalidParameter
from graphql_api.schema import GxrtcSchema, _Checks


@strawberry.type
class Item:
    name: str
    size: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self, count: int = 2, prefix: str = "i") -> list[Item]:
        return [Item(name=f"{prefix}{n}", size=n) for n in range(count)]

    @strawberry.field
    async def refuse(self, name: str) -> str:
        raise InvalidParameter("name", f"{name} is not allowed")

    @strawberry.field
    def broken(self) -> int:
        raise RuntimeError("a bug, masked")

    @strawberry.field
    def nested(self) -> Item | None:
        return Item(name="n", size=1)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def rename(self, name: str, snake_case: int = 1) -> Item:
        return Item(name=name, size=snake_case)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:  # pragma: no cover - never run over HTTP
        yield 1


def build(speedups: bool) -> GxrtcSchema:
    checks = _Checks(
        max_tokens=200,
        max_query_bytes=2000,
        rules=tuple(QueryDepthLimiter(max_depth=3).validation_rules),
        suggestions=False,
    )
    return GxrtcSchema(checks=checks, speedups=speedups, query=Query, mutation=Mutation, subscription=Subscription)


FAST, PLAIN = build(True), build(False)
POST = frozenset({OperationType.QUERY, OperationType.MUTATION})

CASES: list[tuple[str, dict[str, Any] | None, str | None]] = [
    ("{ items { name size } }", None, None),
    ('query($n: Int!) { items(count: $n, prefix: "p") { name } }', {"n": 3}, None),
    ("query($n: Int!) { items(count: $n) { name } }", {"n": "three"}, None),
    ("query($n: Int!) { items(count: $n) { name } }", {}, None),
    ('{ refuse(name: "x") }', None, None),
    ("{ broken }", None, None),
    ("{ broken items { name } }", None, None),
    ("{ nested { name } alias: items(count: 1) { size } }", None, None),
    ('mutation { rename(name: "r", snakeCase: 4) { name size } }', None, None),
    ('mutation($s: Int) { rename(name: "r", snakeCase: $s) { size } }', {"s": None}, None),
    ("{ items { nme } }", None, None),
    ("{ items { name ", None, None),
    ("{ " + "items { name } " * 60 + "}", None, None),
    ("{ " + "a: items { name } " * 200 + "}", None, None),
    ("query A { items { name } } query B { nested { size } }", None, "B"),
    # Strawberry alone would run the first operation; graphql-core refuses (the lean path's answer).
    ("query A { items { name } } query B { nested { size } }", None, None),
    ("{ __typename }", None, None),
]


def outcome(result: Any) -> tuple[Any, list[dict[str, Any]] | None]:
    errors = [error.formatted for error in result.errors] if result.errors else None
    return result.data, errors


@pytest.mark.parametrize(("query", "variables", "operation"), CASES)
async def test_the_same_answer_both_ways(query: str, variables: dict[str, Any] | None, operation: str | None) -> None:
    fast = await FAST.execute(query, variables, operation_name=operation, allowed_operation_types=POST)
    plain = await PLAIN.execute(query, variables, operation_name=operation, allowed_operation_types=POST)
    assert outcome(fast) == outcome(plain)


@pytest.mark.parametrize(
    ("query", "operation", "refusal"),
    [
        ("query A { items { name } }", "C", CannotGetOperationTypeError),
        ("subscription { ticks }", None, InvalidOperationTypeError),
    ],
)
async def test_the_same_refusal_both_ways(query: str, operation: str | None, refusal: type[Exception]) -> None:
    for schema in (FAST, PLAIN):
        with pytest.raises(refusal):
            await schema.execute(query, operation_name=operation, allowed_operation_types=POST)


def test_both_schemas_print_the_same_sdl() -> None:
    assert FAST.as_str() == PLAIN.as_str()
    assert len(specified_rules) > 0
