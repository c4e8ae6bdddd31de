"""The migrations make exactly the code's tables (SQLite here; tests/integration/test_store_postgres.py on PostgreSQL),
and the service refuses to start in production on a schema that is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from graphql_api.core.store import Store, metadata
from graphql_api.core.store.migrate import HEAD, SchemaMismatch, current_revision, prepare, upgrade


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


@pytest.fixture
async def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite+aiosqlite:///{tmp_path / 'gxrtc.sqlite3'}", timeout_seconds=3)


async def test_the_migrations_make_exactly_the_tables_of_the_code(store: Store) -> None:
    await upgrade(store)
    async with store.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    assert await current_revision(store) == HEAD
    await store.aclose()


async def test_an_upgrade_at_head_changes_nothing(store: Store) -> None:
    await upgrade(store)
    await upgrade(store)
    assert await current_revision(store) == HEAD
    await store.aclose()


async def test_production_refuses_a_database_behind_the_code_and_names_the_command(store: Store) -> None:
    with pytest.raises(SchemaMismatch, match=r"python -m graphql_api migrate"):
        await prepare(store, dev=False)
    await prepare(store, dev=True)  # dev upgrades instead
    await prepare(store, dev=False)
    await store.aclose()


async def test_sqlite_connections_are_durable_wal_with_a_lock_wait(store: Store) -> None:
    async with store.begin() as connection:
        pragmas = {
            name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 3000, "foreign_keys": 1}
    await store.aclose()
