"""Store functions of the replicas' shared state: job leases and change counters.

Both work alike on SQLite and PostgreSQL: a row is made with INSERT ... ON CONFLICT DO NOTHING,
then changed by a conditional UPDATE whose row count says whether it applied. Lease times come
from the database's clock, never a replica's, so replicas with skewed clocks still agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import ChangeCounter, Lease, SessionEvent

_NOW_MS = {
    "postgresql": "SELECT CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS BIGINT)",
    "sqlite": "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
}


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


async def database_now_ms(db: AsyncSession) -> int:
    """The database's clock in milliseconds since the epoch: the one clock all replicas share."""
    connection = await db.connection()  # a raw statement: not through SQLModel's exec
    return int((await connection.execute(text(_NOW_MS[_dialect(db)]))).scalar_one())


def _insert_ignore(db: AsyncSession, model: Any, key: str, **values: Any) -> Any:
    insert = postgresql.insert if _dialect(db) == "postgresql" else sqlite.insert
    return insert(model).values(**values).on_conflict_do_nothing(index_elements=[key])


async def take_lease(db: AsyncSession, *, name: str, holder: str, ttl_ms: int) -> int | None:
    """Takes or renews the lease `name` for `holder` when it is free, expired or already the
    holder's; returns its new expiry (database clock), or None when another holder has it."""
    await db.exec(_insert_ignore(db, Lease, "name", name=name, holder="", expire_time=0))
    now = await database_now_ms(db)
    result = await db.exec(
        update(Lease).where(col(Lease.name) == name,
                            or_(col(Lease.holder) == holder, col(Lease.expire_time) <= now))
        .values(holder=holder, expire_time=now + ttl_ms))
    return now + ttl_ms if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def release_lease(db: AsyncSession, *, name: str, holder: str) -> bool:
    """Gives the lease up at once (a clean stop), if `holder` still has it."""
    result = await db.exec(update(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder)
                              .values(holder="", expire_time=0))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def bump_counter(db: AsyncSession, *, name: str) -> None:
    """Counts a change; in the transaction of the change, so a replica that sees the new value
    also sees the change."""
    await db.exec(_insert_ignore(db, ChangeCounter, "name", name=name, value=0))
    await db.exec(update(ChangeCounter).where(col(ChangeCounter.name) == name)
                     .values(value=col(ChangeCounter.value) + 1))


async def read_counter(db: AsyncSession, *, name: str) -> int:
    return (await db.exec(select(ChangeCounter.value).where(ChangeCounter.name == name))).first() or 0


async def last_event_id(db: AsyncSession) -> int:
    """The newest session event of any tenant (the primary key's index answers it)."""
    return (await db.exec(select(func.max(SessionEvent.id)))).one() or 0
