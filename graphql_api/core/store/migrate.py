"""The store's schema by Alembic's migrations (`migrations/`), configured here rather than by an alembic.ini.

`upgrade` brings a database to the code's head (`python -m graphql_api
migrate`; in dev, also at every start). `prepare` is what the service does at
start: in dev it upgrades, in production it refuses to run on a schema that is
behind the code (or ahead of it, after a rollback), naming the command to run.
On PostgreSQL an upgrade holds an advisory lock, so instances starting together
migrate one after another; the later ones find the schema at head and do nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .engine import Store

__all__ = ["HEAD", "SchemaMismatch", "current_revision", "prepare", "upgrade"]

_SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY: Final = 0x67787274635F7374  # "gxrtc_st": one key for every instance of this service
MIGRATE_COMMAND: Final = "python -m graphql_api migrate"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


HEAD: Final = ScriptDirectory.from_config(_config()).get_current_head()
"""The revision the code's tables are."""


class SchemaMismatch(RuntimeError):
    """The database's schema is not the code's: production does not start on it."""


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    command.upgrade(_config(connection), "head")


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(store: Store) -> None:
    """Every migration the database lacks, in one transaction (on PostgreSQL; SQLite commits DDL as it goes)."""
    async with store.engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(store: Store) -> str | None:
    async with store.engine.connect() as connection:
        return await connection.run_sync(_revision)


async def prepare(store: Store, *, dev: bool) -> None:
    if dev:
        await upgrade(store)
        return
    current = await current_revision(store)
    if current != HEAD:
        raise SchemaMismatch(
            f"refusing to start: the database's schema is at revision {current or 'none'}, the code's at {HEAD}; "
            f"run `{MIGRATE_COMMAND}` with the same settings first"
        )
