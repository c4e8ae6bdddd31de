"""`upsert`: insert a row or replace the one with its key, in one statement on SQLite and PostgreSQL alike.

One statement, so two instances writing the same key at once both succeed and the later write is kept
(a delete and an insert could collide on the key and fail one of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["upsert"]


async def upsert(connection: AsyncConnection, table: Table, key: Sequence[str], values: Mapping[str, Any]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[name] for name in key],
            set_={name: statement.excluded[name] for name in values if name not in key},
        )
    )
