"""One-field plans give exactly what graphql-core gives, and call the resolver exactly once.

Every operation runs through its plan and through graphql-core's own
executor on the same schema; the formatted results (data, errors, paths,
locations) must be equal. Requests the plan does not handle itself (a bad
variable, a resolver that raises, a value it cannot complete) must still call
the resolver once only: a mutation must not run twice.
"""

from __future__ import annotations

import enum
from typing import Any

import graphql
import pytest
import strawberry
from graphql.execution.incremental.incremental_executor import IncrementalExecutor

from graphql_api._speedups.direct_resolvers import call_resolvers_directly
from graphql_api._speedups.one_field import plan_operation

CALLS: list[str] = []


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Holder:
    name: str | None


@strawberry.type
class Ticket:
    code: str
    seats: int
    color: Color
    tags: list[str]
    holder: Holder | None = None


def ticket(code: str, seats: int = 2, color: Color = Color.RED, tags: list[str] | None = None) -> Ticket:
    holder = Holder(name=None if code == "nameless" else "ann")
    return Ticket(code=code, seats=seats, color=color, tags=tags or [], holder=holder)


@strawberry.type
class Query:
    @strawberry.field
    def ticket(
        self,
        code: str,
        seats: int = 2,
        color: Color = Color.RED,
        tags: list[str] | None = None,
        note: str | None = None,
    ) -> Ticket:
        CALLS.append(f"ticket {code} {note}")
        return ticket(code, seats, color, tags)

    @strawberry.field
    async def later(self, code: str) -> Ticket:
        CALLS.append(f"later {code}")
        return ticket(code)

    @strawberry.field
    def maybe(self, code: str) -> Ticket | None:
        CALLS.append(f"maybe {code}")
        return None if code == "none" else ticket(code)

    @strawberry.field
    def must(self, code: str) -> Ticket:
        CALLS.append(f"must {code}")
        return None if code == "none" else ticket(code)  # type: ignore[return-value]

    @strawberry.field
    async def fails(self, code: str) -> Ticket:
        CALLS.append(f"fails {code}")
        raise ValueError(f"no ticket {code}")

    @strawberry.field
    def double(self, n: int) -> int:
        CALLS.append(f"double {n}")
        return n * 2

    @strawberry.field
    def huge(self) -> int:
        CALLS.append("huge")
        return 2**40  # no GraphQL Int: a completion error

    @strawberry.field
    def who(self, info: strawberry.Info) -> str:
        CALLS.append("who")
        return f"{info.context['name']} at {info.path.key} of {info._raw_info.parent_type.name}"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def book(self, code: str, seats: int) -> Ticket:
        CALLS.append(f"book {code} {seats}")
        return ticket(code, seats)

    @strawberry.mutation
    def book_or_fail(self, code: str) -> Ticket:
        CALLS.append(f"book_or_fail {code}")
        raise RuntimeError("sold out")


def schemas() -> dict[str, graphql.GraphQLSchema]:
    wrapped = strawberry.Schema(query=Query, mutation=Mutation)
    direct = strawberry.Schema(query=Query, mutation=Mutation)
    call_resolvers_directly(direct)
    return {"strawberry resolvers": wrapped._schema, "direct resolvers": direct._schema}


SCHEMAS = schemas()
T = "{ code seats color tags }"
PLANNED: list[tuple[str, dict[str, Any] | None]] = [
    ("query($c: String!) { ticket(code: $c) " + T + " }", {"c": "A"}),
    ("query($c: String!, $s: Int = 5) { ticket(code: $c, seats: $s) { seats } }", {"c": "A"}),
    ("query($c: String!, $s: Int = 5) { ticket(code: $c, seats: $s) { seats } }", {"c": "A", "s": 7}),
    ('query($n: String) { ticket(code: "A", note: $n) { code } }', {}),  # omitted nullable variable
    ('query($n: String) { ticket(code: "A", note: $n) { code } }', {"n": None}),
    ("query($c: String!) { ticket(code: $c) { code } }", {"c": 5}),  # wrong type
    ("query($c: String!) { ticket(code: $c) { code } }", {"c": None}),  # null for non-null
    ("query($c: String!) { ticket(code: $c) { code } }", {}),  # missing
    ("query($c: String!) { ticket(code: $c) { code } }", None),
    ('{ ticket(code: "B", seats: 3, color: BLUE, tags: ["x", "y"]) ' + T + " }", None),
    ('{ ticket(code: "B", tags: "solo") { tags } }', None),
    ('query($t: [String!]) { ticket(code: "C", tags: $t) { tags } }', {"t": "solo"}),
    ('query($t: [String!]) { ticket(code: "C", tags: $t) { tags } }', {"t": ["a", "b"]}),
    ('query($t: [String!]) { ticket(code: "C", tags: $t) { tags } }', {"t": ["a", None]}),
    ('query($t: [String!]) { ticket(code: "C", tags: $t) { tags } }', {"t": [[[["deep"]]]]}),
    ('query($col: Color!) { ticket(code: "D", color: $col) { color } }', {"col": "BLUE"}),
    ('query($col: Color!) { ticket(code: "D", color: $col) { color } }', {"col": "GREEN"}),
    ('{ t: ticket(code: "E") { __typename code again: code holder { __typename name } } }', None),
    ('{ ticket(code: "nameless") { holder { name } } }', None),
    ('{ maybe(code: "none") { code } }', None),
    ('{ maybe(code: "F") { code } }', None),
    ('{ must(code: "none") { code } }', None),  # null in a non-null field
    ('{ fails(code: "G") { code } }', None),  # the resolver raises
    ('{ later(code: "H") { code tags } }', None),
    ("query($n: Int!) { double(n: $n) }", {"n": 3}),
    ("query($n: Int!) { double(n: $n) }", {"n": "3"}),
    ("query($n: Int!) { double(n: $n) }", {"n": 2**40}),
    ("query($n: Int!) { double(n: $n) }", {"n": 3.0}),
    ("{ huge }", None),
    ("query Named { who }", None),
    ("mutation($c: String!, $s: Int!) { book(code: $c, seats: $s) { code seats } }", {"c": "I", "s": 4}),
    ("mutation($c: String!, $s: Int!) { book(code: $c, seats: $s) { code seats } }", {"c": "I", "s": "four"}),
    ('mutation { bookOrFail(code: "J") { code } }', None),
    # A null for a nullable variable with a default, in a non-null argument: refused before the resolver runs.
    ("query($c: String!, $s: Int = 5) { ticket(code: $c, seats: $s) { seats } }", {"c": "A", "s": None}),
    ("mutation($c: String!, $s: Int = 1) { book(code: $c, seats: $s) { code seats } }", {"c": "K", "s": None}),
]
NOT_PLANNED = [
    '{ ticket(code: "A") { code } maybe(code: "B") { code } }',  # two root fields
    '{ ...F } fragment F on Query { ticket(code: "A") { code } }',
    '{ ticket(code: "A") { ...F } } fragment F on Ticket { code }',
    'query($i: Boolean!) { ticket(code: "A") @include(if: $i) { code } }',
    'query($i: Boolean!) { ticket(code: "A") { code @include(if: $i) } }',
    "{ __typename }",
    'query A { ticket(code: "A") { code } } query B { ticket(code: "B") { code } }',
]


async def run_graphql_core(schema: graphql.GraphQLSchema, query: str, variables: dict[str, Any] | None) -> Any:
    result = graphql.execute(
        schema,
        graphql.parse(query),
        variable_values=variables,
        context_value={"name": "ctx"},
        executor_class=IncrementalExecutor,
    )
    if graphql.pyutils.is_awaitable(result):
        result = await result
    return result.formatted  # type: ignore[union-attr]


@pytest.mark.parametrize("resolvers", list(SCHEMAS))
@pytest.mark.parametrize(("query", "variables"), PLANNED)
async def test_same_result_as_graphql_core_and_one_call(
    resolvers: str, query: str, variables: dict[str, Any] | None
) -> None:
    schema = SCHEMAS[resolvers]
    plan = plan_operation(schema, graphql.parse(query), None)
    assert plan is not None
    CALLS.clear()
    expected = await run_graphql_core(schema, query, variables)
    calls_by_graphql_core = list(CALLS)
    CALLS.clear()
    result = await plan.execute(variables, {"name": "ctx"}, None)
    assert result.formatted == expected
    assert calls_by_graphql_core == CALLS  # once, or not at all when graphql-core refuses the variables
    assert len(CALLS) <= 1


@pytest.mark.parametrize("query", NOT_PLANNED)
def test_what_is_left_to_graphql_core(query: str) -> None:
    schema = SCHEMAS["direct resolvers"]
    assert graphql.validate(schema, graphql.parse(query)) == []
    assert plan_operation(schema, graphql.parse(query), None) is None


def test_an_operation_name_must_match() -> None:
    schema = SCHEMAS["direct resolvers"]
    document = graphql.parse('query Named { ticket(code: "A") { code } }')
    assert plan_operation(schema, document, "Named") is not None
    assert plan_operation(schema, document, "Other") is None
