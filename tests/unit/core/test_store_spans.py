"""Each database transaction is a client span, a child of the current span, marked failed with its error's
class when the database cannot be used (the caller's 503 says no more)."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from sqlalchemy import text

from graphql_api.core import tracing
from graphql_api.core.store import Store
from graphql_api.errors import ServiceUnavailable
from tests.harness.tracing import recorded_spans


async def test_a_transaction_is_a_span_and_its_failure_is_marked(tmp_path: Path) -> None:
    working = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}", timeout_seconds=5)
    # A file in a directory that is not there: SQLite cannot open it.
    broken = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'store.sqlite3'}", timeout_seconds=5)
    # Reads (`writes=False`) take no writer's turn, so the broken store's error is SQLite's own.
    with recorded_spans() as spans:
        tracing.enable(True)
        with trace.get_tracer("test").start_as_current_span("request"):
            async with working.begin(writes=False) as connection:
                await connection.execute(text("SELECT 1"))
            with pytest.raises(ServiceUnavailable):
                async with broken.begin(writes=False) as connection:
                    await connection.execute(text("SELECT 1"))
        await working.aclose()
        await broken.aclose()
        request = spans.one("request")
        ok, failed = spans.named("transaction")
        assert spans.parent(ok) is request
        assert spans.parent(failed) is request
    assert ok.status.status_code.name == "UNSET"
    assert failed.status.status_code.name == "ERROR"
    assert failed.attributes == {"db.system.name": "sqlite", "error.type": "OperationalError"}
