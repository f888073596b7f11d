"""Rows inserted through the driver (control.db.driver_insert, the audit batch's statement): ids in
row order at any count, and the driver's errors raised as SQLAlchemy's, which is what the decision
writer's failure handling reads (control.db.writer). Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control.db import driver_calls, driver_insert
from control.db.models import AuditEvent
from control.db.writer import DecisionWriter, Tx
from control.services import audit
from tests.control.helpers import terminate_backend

EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
COLUMNS = tuple(c.name for c in EVENTS.columns if c.name != "id")


@pytest.fixture
async def writer(engine: AsyncEngine, database_url: str) -> AsyncIterator[DecisionWriter]:
    decisions = DecisionWriter(database_url)
    yield decisions
    await asyncio.to_thread(decisions.close)


def rows(count: int, *, first: int = 0) -> list[list[object]]:
    records = [audit.new_event(time=first + n, actor=f"user:{first + n}", operation="CheckFileInfo", outcome="ok",
                               tenant_id="t", status=200) for n in range(count)]
    for record in records:
        record.previous_hash, record.hash = "p" * 64, "h" * 64
    return [[getattr(record, name) for name in COLUMNS] for record in records]


async def stored_times(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(AuditEvent.id, AuditEvent.time).order_by(col(AuditEvent.id)))
        return [(int(i), int(t)) for i, t in result.all()]


async def test_more_rows_than_one_statement_holds_get_ids_in_row_order(
    writer: DecisionWriter, engine: AsyncEngine
) -> None:
    count = 2 * driver_insert.ROWS_PER_STATEMENT + 7

    ids = await writer.run(lambda tx: driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, rows(count)))

    assert ids == sorted(ids) and len(set(ids)) == count
    assert await stored_times(engine) == list(zip(ids, range(count)))


async def test_every_row_count_gets_its_own_statement_and_the_right_ids(
    writer: DecisionWriter, engine: AsyncEngine
) -> None:
    """A count's first statement and its later ones (PostgreSQL prepares a text from its fifth use)."""
    returned: list[int] = []
    first = 0
    for count in [1, 3, 1, 3, 5, 5, 5, 5, 5, 5, 2]:
        batch = rows(count, first=first)
        returned += await writer.run(lambda tx, batch=batch: driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, batch))  # type: ignore[misc]
        first += count

    assert await stored_times(engine) == list(zip(returned, range(first)))


async def test_a_row_the_database_refuses_is_raised_as_sqlalchemys_error_and_nothing_is_stored(
    writer: DecisionWriter, engine: AsyncEngine
) -> None:
    batch = rows(3)
    batch[1][COLUMNS.index("operation")] = None  # NOT NULL

    with pytest.raises(IntegrityError):
        await writer.run(lambda tx: driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, batch))

    assert await stored_times(engine) == []


async def test_a_connection_lost_during_the_insert_is_raised_invalidated_and_the_next_batch_reconnects(
    writer: DecisionWriter, engine: AsyncEngine, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connection to lose")

    def insert_after_losing_the_connection(tx: Tx) -> list[int]:
        pid = int(tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        terminate_backend(database_url, pid)
        return driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, rows(2))

    with pytest.raises(DBAPIError) as raised:
        await writer.run(insert_after_losing_the_connection)
    assert raised.value.connection_invalidated

    ids = await writer.run(lambda tx: driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, rows(1, first=5)))
    assert await stored_times(engine) == [(ids[0], 5)]


async def test_a_driver_without_a_statement_of_ours_gets_sqlalchemys_with_the_same_ids(
    writer: DecisionWriter, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_calls, "DRIVERS", set())

    ids = await writer.run(lambda tx: driver_insert.insert_rows(tx.conn, EVENTS, COLUMNS, rows(5)))

    assert await stored_times(engine) == list(zip(ids, range(5)))
