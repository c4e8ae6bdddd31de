"""The store on real databases: on PostgreSQL the migrations make exactly the code's tables and the deadline
holds; the group commit's precompiled INSERT stores what SQLAlchemy's does, and its commit (`commit_rows`)
what the path with the speed-ups off does; a production service refuses a
schema behind the code, and starts once `migrate` has run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from graphql_api.core.store import Store, metadata
from graphql_api.core.store.migrate import HEAD, current_revision, upgrade
from graphql_api.errors import ServiceUnavailable
from tests.harness.livekit_server import LiveKitServer
from tests.harness.postgres_server import PostgresServer
from tests.harness.service import ROOT, run_service
from tests.integration.conftest import service_settings
from tests.unit.speedups.test_plain_insert import compare_commits, compare_stores


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


def test_production_refuses_a_schema_behind_the_code_until_migrate_has_run(
    livekit_server: LiveKitServer, postgres_url: str
) -> None:
    settings = service_settings(
        livekit_server, GXRTC_ENV="production", GXRTC_DATABASE_URL=postgres_url, GXRTC_ADMIN_KEY="k" * 40
    )
    with (
        pytest.raises(RuntimeError, match=r"revision none.*run `python -m graphql_api migrate`"),
        run_service(settings, migrate=False),
    ):
        pass
    migrated = subprocess.run(
        [sys.executable, "-m", "graphql_api", "migrate"],
        cwd=ROOT,
        env={**settings, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    with run_service(settings, migrate=False) as service:
        assert service.process.poll() is None


async def test_the_precompiled_insert_stores_sqlalchemys_rows_on_postgresql(postgres_server: PostgresServer) -> None:
    stores = []
    for _ in range(2):
        url = postgres_server.create_database()
        store = Store.open(url, timeout_seconds=5)
        await upgrade(store)
        stores.append(store)
    try:
        await compare_stores(*stores)
    finally:
        for store in stores:
            await store.aclose()


async def test_the_group_commit_stores_what_the_usual_path_stores_on_postgresql(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = []
    for speedups in ("on", "off"):
        url = postgres_server.create_database()
        with monkeypatch.context() as patched:
            patched.setenv("GXRTC_SPEEDUPS", speedups)
            store = Store.open(url, timeout_seconds=5)
        await upgrade(store)
        stores.append(store)
    try:
        await compare_commits(*stores)
    finally:
        for store in stores:
            await store.aclose()
