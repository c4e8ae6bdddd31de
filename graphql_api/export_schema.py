"""Prints the GraphQL schema as SDL: `make schema` writes it to schema.graphql."""

from .schema import schema

if __name__ == "__main__":
    print(schema.as_str())
