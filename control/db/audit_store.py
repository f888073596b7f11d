"""Store functions of the audit trail: one query each, keyword-only arguments, never commit.

A chain is named by its tenant id, "" for the deployment-wide one (whose records have
tenant_id NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import AuditChainHead, AuditEvent


def _of_tenant(tenant_id: str) -> ColumnElement[bool]:
    return col(AuditEvent.tenant_id).is_(None) if tenant_id == "" else col(AuditEvent.tenant_id) == tenant_id


def chain_filter(chain: str, head: AuditChainHead | None) -> ColumnElement[bool]:
    """The records of one chain, by its head (see AuditChainHead): its tenant's records after
    first_after_id, and for an archived chain no further than its last record."""
    if head is None:
        return _of_tenant(chain)
    if head.archive_of:
        return and_(_of_tenant(head.archive_of), col(AuditEvent.id) > head.first_after_id,
                    col(AuditEvent.id) <= head.last_event_id)
    return and_(_of_tenant(chain), col(AuditEvent.id) > head.first_after_id)


async def in_chain(db: AsyncSession, chain: str) -> ColumnElement[bool]:
    return chain_filter(chain, await get_head(db, chain=chain))


# -- chain heads --------------------------------------------------------------------------------


async def head_for_update(db: AsyncSession, *, chain: str) -> AuditChainHead | None:
    """Row-locks the head (PostgreSQL FOR UPDATE; SQLite transactions are already exclusive)."""
    query = (select(AuditChainHead).where(AuditChainHead.tenant_id == chain).with_for_update()
             .execution_options(populate_existing=True))
    return (await db.exec(query)).first()


async def create_head(db: AsyncSession, *, chain: str) -> None:
    """Inserts an empty head unless one exists: a concurrent first append may have made it."""
    dialect = (await db.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(AuditChainHead).values(tenant_id=chain).on_conflict_do_nothing(index_elements=["tenant_id"])
    await db.exec(statement)  # type: ignore[call-overload]


async def get_head(db: AsyncSession, *, chain: str) -> AuditChainHead | None:
    query = select(AuditChainHead).where(AuditChainHead.tenant_id == chain).execution_options(populate_existing=True)
    return (await db.exec(query)).first()


async def create_archive(db: AsyncSession, *, name: str, live: AuditChainHead) -> None:
    """Copies the live head `live` under `name` as an archived chain of its tenant."""
    db.add(AuditChainHead(tenant_id=name, archive_of=live.tenant_id, first_after_id=live.first_after_id,
                          last_event_id=live.last_event_id, last_hash=live.last_hash,
                          anchor_event_id=live.anchor_event_id, anchor_hash=live.anchor_hash, purged=live.purged))
    await db.flush()


async def chain_names(db: AsyncSession) -> list[str]:
    """Every chain that has a head or a record ("" first)."""
    heads = (await db.exec(select(AuditChainHead.tenant_id))).all()
    tenants = (await db.exec(select(func.coalesce(AuditEvent.tenant_id, "")).distinct())).all()
    return sorted(set(heads) | set(tenants))


# -- records ------------------------------------------------------------------------------------


async def add_event(db: AsyncSession, *, event: AuditEvent) -> None:
    """Inserts now (not at commit), so that the id follows the chain's order."""
    db.add(event)
    await db.flush()


_EVENT_COLUMNS = tuple(c.name for c in AuditEvent.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
# One statement object, values bound per execution: compiled and cache-keyed once.
_INSERT_EVENT = insert(AuditEvent.__table__).returning(AuditEvent.__table__.c.id)  # type: ignore[attr-defined]


async def insert_events(db: AsyncSession, *, events: Sequence[Any]) -> int:
    """Inserts now, one Core statement per row in list order (so ids follow the chain's order),
    without the ORM's unit of work; sets each event's id and returns the last one. `events`:
    control.services.audit.AuditRecord (or rows alike)."""
    connection = await db.connection()
    last = 0
    for event in events:
        values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
        event.id = last = int((await connection.execute(_INSERT_EVENT, values)).scalar_one())
    return last


async def chain_batch(db: AsyncSession, *, chain: str, after_id: int, up_to_id: int,
                      limit: int) -> Sequence[AuditEvent]:
    query = (select(AuditEvent).where(await in_chain(db, chain), col(AuditEvent.id) > after_id,
                                      col(AuditEvent.id) <= up_to_id)
             .order_by(col(AuditEvent.id)).limit(limit))
    return (await db.exec(query)).all()


async def first_id_after(db: AsyncSession, *, chain: str, after_id: int) -> int | None:
    query = select(func.min(AuditEvent.id)).where(await in_chain(db, chain), col(AuditEvent.id) > after_id)
    return (await db.exec(query)).one()


async def first_id_since(db: AsyncSession, *, chain: str, since_time: int) -> int | None:
    """The chain's first record at or after `since_time`."""
    query = select(func.min(AuditEvent.id)).where(await in_chain(db, chain), AuditEvent.time >= since_time)
    return (await db.exec(query)).one()


async def last_before(db: AsyncSession, *, chain: str, before_id: int | None) -> AuditEvent | None:
    """The chain's last record before `before_id` (None: its last record)."""
    query = select(AuditEvent).where(await in_chain(db, chain)).order_by(col(AuditEvent.id).desc()).limit(1)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    return (await db.exec(query)).first()


async def delete_through(db: AsyncSession, *, chain: str, last_id: int) -> int:
    """Removes the chain's records up to `last_id` included; returns how many."""
    result = await db.exec(delete(AuditEvent).where(await in_chain(db, chain), col(AuditEvent.id) <= last_id))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class EventQuery:
    """ListAuditEvents' filters; None (or "") means any. Times: [start_time, end_time) in ms."""

    tenant_id: str | None = None  # a chain's name: its records only (an archived chain's too)
    session_id: str = ""
    file_id: str = ""
    actor: str = ""
    operation: str = ""
    outcome: str = ""
    start_time: int | None = None
    end_time: int | None = None


async def list_events(db: AsyncSession, *, where: EventQuery, after_id: int | None,
                      limit: int) -> Sequence[AuditEvent]:
    """Oldest first (id order); `after_id` is the previous page's last id."""
    query = select(AuditEvent).order_by(col(AuditEvent.id)).limit(limit)
    if where.tenant_id is not None:
        # A tenant created again under a deleted one's id reads its own chain, not the archived one.
        query = query.where(await in_chain(db, where.tenant_id))
    for column, value in ((AuditEvent.session_id, where.session_id), (AuditEvent.file_id, where.file_id),
                          (AuditEvent.actor, where.actor), (AuditEvent.operation, where.operation),
                          (AuditEvent.outcome, where.outcome)):
        if value:
            query = query.where(column == value)
    if where.start_time is not None:
        query = query.where(AuditEvent.time >= where.start_time)
    if where.end_time is not None:
        query = query.where(AuditEvent.time < where.end_time)
    if after_id is not None:
        query = query.where(col(AuditEvent.id) > after_id)
    return (await db.exec(query)).all()
