"""Resolvers called straight from graphql-core receive what Strawberry's wrapper would have given them."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from graphql_api.schema import GxrtcSchema, _Checks


@strawberry.enum
class Color(enum.Enum):
    RED = 1
    BLUE = 2


@strawberry.input
class Box:
    width: int
    color: Color = Color.RED


SEEN: list[dict[str, Any]] = []


@strawberry.type
class Query:
    @strawberry.field
    def echo(
        self,
        info: strawberry.Info,
        source: str,
        snake_case_name: int = 3,
        colors: list[Color] | None = None,
        tags: list[str] | None = None,
    ) -> str:
        SEEN.append({"source": source, "n": snake_case_name, "colors": colors, "tags": tags, "field": info.field_name})
        if tags is not None:
            tags.append("mutated by the resolver")
        return source

    @strawberry.field
    async def area(self, box: Box) -> int:
        SEEN.append({"box": box})
        return box.width * box.width


schema = GxrtcSchema(checks=_Checks(max_tokens=1000, rules=(), suggestions=True), speedups=True, query=Query)


async def test_arguments_arrive_renamed_converted_and_with_info() -> None:
    SEEN.clear()
    result = await schema.execute('{ echo(source: "s", snakeCaseName: 5, colors: [BLUE, RED]) }')
    assert result.errors is None
    assert result.data == {"echo": "s"}
    assert SEEN == [{"source": "s", "n": 5, "colors": [Color.BLUE, Color.RED], "tags": None, "field": "echo"}]


async def test_defaults_apply_and_lists_are_the_resolvers_own() -> None:
    SEEN.clear()
    query = 'query($tags: [String!]) { echo(source: "x", tags: $tags) }'
    variables = {"tags": ["a"]}
    for _ in range(2):
        result = await schema.execute(query, variable_values=variables)
        assert result.errors is None
    assert [seen["tags"] for seen in SEEN] == [["a", "mutated by the resolver"]] * 2
    assert variables == {"tags": ["a"]}
    assert SEEN[0]["n"] == 3


async def test_input_objects_still_go_through_strawberry() -> None:
    SEEN.clear()
    result = await schema.execute("{ area(box: {width: 4}) }")
    assert result.errors is None
    assert result.data == {"area": 16}
    [seen] = SEEN
    assert seen["box"] == Box(width=4, color=Color.RED)


def test_only_fields_without_input_objects_are_called_directly() -> None:
    fields = schema._schema.query_type.fields  # type: ignore[union-attr]
    assert fields["echo"].resolve.__qualname__.startswith("_direct")
    assert not fields["area"].resolve.__qualname__.startswith("_direct")
