"""Alembic's environment for the moderation store, configured by `store.migrate` rather than an alembic.ini.

`migrate` hands over a connection it opened (async engine, `run_sync`), so the
migrations run in that connection's transaction, with the service's own URL
and pragmas. Without one (Alembic's own command line), it opens the URL given
in the config, async as well.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; the same migrations run on both databases.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    asyncio.run(_run_online())
