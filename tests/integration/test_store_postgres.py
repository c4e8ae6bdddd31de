"""The store on a real PostgreSQL: the migrations make exactly the code's tables, and its deadline holds."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from graphql_api.core.store import Store, metadata
from graphql_api.core.store.migrate import HEAD, current_revision, upgrade
from graphql_api.errors import ServiceUnavailable


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_the_migrations_make_exactly_the_tables_of_the_code_on_postgresql(postgres_url: str) -> None:
    store = Store.open(postgres_url, timeout_seconds=5)
    try:
        await upgrade(store)
        await upgrade(store)  # at head: nothing to do
        async with store.engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        assert await current_revision(store) == HEAD
    finally:
        await store.aclose()


async def test_a_statement_longer_than_the_deadline_is_a_503(postgres_url: str) -> None:
    store = Store.open(postgres_url, timeout_seconds=0.5)
    try:
        with pytest.raises(ServiceUnavailable):
            async with store.begin() as connection:
                await connection.execute(text("SELECT pg_sleep(3)"))
        async with store.begin() as connection:  # the pool recovers
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await store.aclose()
