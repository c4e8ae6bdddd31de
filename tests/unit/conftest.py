"""Unit tests keep their files to themselves: an app a test starts (its lifespan) stores in a temp dir.

One store for the session, migrated once, so that apps in production mode (which refuse a schema
behind the code) start too; tests of the store itself make their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from graphql_api.core.store import Store
from graphql_api.core.store.migrate import upgrade


@pytest.fixture(scope="session")
def _session_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state_dir = tmp_path_factory.mktemp("state")

    async def migrate() -> None:
        store = Store.open(f"sqlite+aiosqlite:///{state_dir / 'gxrtc.sqlite3'}", timeout_seconds=10)
        await upgrade(store)
        await store.aclose()

    asyncio.run(migrate())
    return state_dir


@pytest.fixture(autouse=True)
def _own_state_dir(_session_state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXRTC_STATE_DIR", str(_session_state_dir))
