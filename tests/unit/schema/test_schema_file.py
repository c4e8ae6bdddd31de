from pathlib import Path

from graphql_api.schema import schema


def test_schema_graphql_matches_the_code() -> None:
    exported = (Path(__file__).parents[3] / "schema.graphql").read_text()
    assert exported == schema.as_str() + "\n", "schema.graphql is out of date: run 'make schema'"
