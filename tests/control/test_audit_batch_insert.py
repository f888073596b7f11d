"""A batch's audit records go to the database in one statement (control.db.audit_sync.flush_heads).
Whatever the statement's shape, each record is stored exactly as it was hashed, with ids in the
order its chain appended it, or the batch fails and stores nothing. Each test runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control.db import audit_sync
from control.db.models import AuditChainHead, AuditEvent
from control.db.writer import DecisionWriter, Tx
from control.services import audit
from tests.control.helpers import OTHER_TENANT, TENANT

FIELDS = [name for name in AuditEvent.model_fields if name != "id"]


@pytest.fixture
async def writer(engine: AsyncEngine, database_url: str) -> AsyncIterator[DecisionWriter]:
    decisions = DecisionWriter(database_url)
    yield decisions
    await asyncio.to_thread(decisions.close)


async def stored(engine: AsyncEngine) -> list[AuditEvent]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
    return [AuditEvent.model_construct(**dict(row._mapping)) for row in rows]  # as stored, unchecked


def varied_records(count: int) -> list[audit.AuditRecord]:
    """Records of three chains (two tenants and the deployment's), interleaved, with the optional
    columns set in some and empty (None) in others, and text that needs quoting."""
    tenants = [TENANT, OTHER_TENANT, None]
    return [audit.new_event(time=1_700_000_000_000 + n, actor=f"user:o'neil \"{n}\"", operation="PutFile",
                            outcome="ok", tenant_id=tenants[n % 3], session_id=f"s-{n}" if n % 2 else None,
                            file_id=f"f-{n}" if n % 4 else None, detail=f"line {n}, {{braces}}, back\\slash",
                            size=None if n % 5 == 0 else 2**40 + n, status=200, version_before=n,
                            version_after=n + 1, lock_hash="ab" * 8, editor="Collabora",
                            client_address="203.0.113.7", correlation_id=f"c-{n}")
            for n in range(count)]


async def test_a_batch_of_records_is_stored_exactly_as_hashed_with_ids_in_appended_order(
    writer: DecisionWriter, engine: AsyncEngine
) -> None:
    records = varied_records(40)

    await writer.run(lambda tx: audit_sync.append(tx, records))

    rows = await stored(engine)
    by_chain: dict[str | None, list[AuditEvent]] = {}
    for row in rows:
        by_chain.setdefault(row.tenant_id, []).append(row)
    for tenant_id in (TENANT, OTHER_TENANT, None):
        appended = [r for r in records if r.tenant_id == tenant_id]
        chain = by_chain[tenant_id]
        assert [[getattr(row, name) for name in FIELDS] for row in chain] == [
            [getattr(record, name) for name in FIELDS] for record in appended]
        assert all(audit.compute_hash(row) == row.hash for row in chain)
        assert [row.previous_hash for row in chain[1:]] == [row.hash for row in chain[:-1]]
        async with engine.connect() as conn:
            head = (await conn.execute(select(AuditChainHead).where(
                col(AuditChainHead.tenant_id) == audit.chain_of(tenant_id)))).one()
        assert (head.last_event_id, head.last_hash) == (chain[-1].id, chain[-1].hash)
    assert [r.id for r in rows] == sorted(r.id for r in rows if r.id is not None)


async def test_batches_of_every_size_are_stored_whole(writer: DecisionWriter, engine: AsyncEngine) -> None:
    """One statement for every batch size (a size's first batch and later ones alike)."""
    sizes = [1, 2, 1, 7, 7, 7, 7, 7, 7, 64, 3]
    for size in sizes:
        batch = varied_records(size)
        await writer.run(lambda tx, batch=batch: audit_sync.append(tx, batch))  # type: ignore[misc]

    assert len(await stored(engine)) == sum(sizes)


async def test_a_value_longer_than_its_column_is_never_stored_cut_short(
    writer: DecisionWriter, engine: AsyncEngine, database_url: str
) -> None:
    """new_event cuts every value to its column; a record made otherwise must not be stored other
    than it was hashed (PostgreSQL refuses it, and the batch with it; SQLite keeps it whole)."""
    record = varied_records(1)[0]
    record.actor = "x" * 301  # the column holds 300

    def append(tx: Tx) -> None:
        audit_sync.append(tx, [record])

    if database_url.startswith("postgresql"):
        with pytest.raises(Exception, match="too long"):
            await writer.run(append)
        assert await stored(engine) == []
    else:
        await writer.run(append)
        [row] = await stored(engine)
        assert row.actor == record.actor and audit.compute_hash(row) == row.hash
