"""The leaf short path gives exactly what graphql-core's own executor gives: data, errors, paths, order.

Every query runs twice on the same schema and data, once with graphql-core's
executor and once with ours, and the results must be equal; the counts show
the short path was taken where it should be.
"""

from __future__ import annotations

import enum
from typing import Any

import graphql
import pytest
import strawberry
from graphql.execution.incremental.incremental_executor import IncrementalExecutor

import graphql_api._speedups.executor as executor_module
from graphql_api._speedups.executor import LeafFastExecutor, prefetched


@strawberry.enum
class Mood(enum.Enum):
    CALM = 1
    LOUD = 2


@strawberry.type
class Person:
    name: str
    nick: str | None
    age: int
    mood: Mood
    score: float | None = None

    tags: list[str] = strawberry.field(default_factory=list)
    friends: list[Person] = strawberry.field(default_factory=list)
    best: Person | None = None

    @strawberry.field
    def greeting(self, polite: bool = True) -> str:
        return f"{'Dear ' if polite else ''}{self.name}"

    @strawberry.field
    @prefetched(lambda person: person.__dict__.get("_known"))
    def known(self) -> list[Person]:
        # What the prefetched value would be, as Room.participants does.
        KNOWN_BY_RESOLVER.append(self.name)
        return self.__dict__.get("_known") or [person("zed")]


class Broken(Person):
    """Reading `age` fails, as a bug in a conversion would."""

    @property
    def age(self) -> int:  # type: ignore[override]
        raise RuntimeError("age unavailable")


def person(name: str, **fields: Any) -> Person:
    values: dict[str, Any] = {"nick": None, "age": 30, "mood": Mood.CALM, **fields}
    return Person(name=name, **values)


KNOWN_BY_RESOLVER: list[str] = []
PEOPLE = [
    person("ann", nick="a", tags=["x", "y"]),
    person("bob", mood=Mood.LOUD, score=1.5, tags=[]),
    person("cy", age=2**40, tags=["z"]),
]
PEOPLE[0].friends = [PEOPLE[1], person("gus", nick="g")]
PEOPLE[0].best = PEOPLE[1]
PEOPLE[1].friends = [person(None)]  # type: ignore[arg-type]
PEOPLE[0].__dict__["_known"] = [person("kim")]
WITH_NULL_NAME = [person("dee"), person(None)]  # type: ignore[arg-type]
BROKEN = [person("eve"), Broken.__new__(Broken)]
BROKEN[1].__dict__.update(name="fay", nick=None, mood=Mood.CALM, score=None, tags=["ok", None])


@strawberry.type
class Query:
    @strawberry.field
    def people(self) -> list[Person]:
        return PEOPLE

    @strawberry.field
    def maybe_people(self) -> list[Person | None]:
        return [PEOPLE[0], None]

    @strawberry.field
    def null_names(self) -> list[Person]:
        return WITH_NULL_NAME

    @strawberry.field
    def broken(self) -> list[Person]:
        return BROKEN

    @strawberry.field
    def first(self) -> Person:
        return PEOPLE[0]


SCHEMA = strawberry.Schema(query=Query)._schema

QUERIES = [
    "{ people { name } }",
    "{ people { name nick mood score } }",
    "{ people { who: name name again: name } }",
    "{ people { __typename name } }",
    "{ people { name greeting } }",
    "{ people { greeting(polite: false) } }",
    "{ people { age } }",  # 2**40 is no GraphQL Int: a field error, with its path
    "{ maybePeople { name } }",
    "{ nullNames { name } }",  # null in a non-null field: the error propagates to the list
    "{ broken { name age } }",  # an exception while reading: the error at its path
    "{ first { name mood } }",
    "query($skip: Boolean!) { people { name nick @skip(if: $skip) } }",
    "{ first { name friends { name nick mood } best { name best { name } } } }",
    "{ people { name best { name } } }",  # null objects
    "{ people { friends { name } } }",  # a null name two levels down: the error at its path
    "{ first { known { name } } }",  # prefetched
    "{ people { name known { name } } }",  # prefetched for ann only: the resolver for the others
    "{ people { __typename friends { __typename name } } }",
    "{ people { ... on Person { name } ...More } } fragment More on Person { mood }",
    "{ people { name tags } }",  # lists of leaves
    "{ broken { tags } }",
    "{ first { friends { tags } } }",
]


def run(query: str, executor_class: type[IncrementalExecutor]) -> Any:
    result = graphql.execute(
        SCHEMA, graphql.parse(query), variable_values={"skip": True}, executor_class=executor_class
    )
    assert not graphql.pyutils.is_awaitable(result)
    return result.formatted  # type: ignore[union-attr]


@pytest.mark.parametrize("query", QUERIES)
def test_same_result_as_graphql_core(query: str) -> None:
    assert run(query, LeafFastExecutor) == run(query, IncrementalExecutor)


def test_the_short_path_is_taken_for_plain_leaves_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    complete = executor_module.complete

    def counting(plan: Any, source: Any) -> Any:
        calls.append(getattr(source, "name", "?"))
        return complete(plan, source)

    monkeypatch.setattr(executor_module, "complete", counting)
    run("{ people { name mood } }", LeafFastExecutor)
    assert calls == ["ann", "bob", "cy"]
    calls.clear()
    run("{ people { name greeting } }", LeafFastExecutor)  # a resolver: graphql-core's way
    assert calls == []
    run("{ first { name friends { name } } }", LeafFastExecutor)
    assert calls == ["ann", "bob", "gus"]  # the object and its friends, all on the short path


def test_a_prefetched_value_spares_the_resolver() -> None:
    KNOWN_BY_RESOLVER.clear()
    assert run("{ first { known { name } } }", LeafFastExecutor) == {"data": {"first": {"known": [{"name": "kim"}]}}}
    assert KNOWN_BY_RESOLVER == []
    run("{ people { known { name } } }", LeafFastExecutor)
    assert sorted(KNOWN_BY_RESOLVER) == ["bob", "cy"]
