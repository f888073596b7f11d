"""Session events: written in the transaction of the change they describe, read by cursor."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractContextManager, nullcontext

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.services import audit
from control.db.models import ApiKey, Session, SessionEvent
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.errors import ApiKeyInvalid, InvalidArgument, TenantDisabled, TenantNotFound

EVENT_TYPES = ("opened", "saved", "locked", "unlocked", "closed", "expired")
IDLE_WAKEUP_S = 1.0  # also catches events committed by another control-plane process
# A stream reads at most this often: every commit that wrote events wakes every stream, and under
# load (dozens of commit batches a second) a read per wake-up per stream was mostly for nothing.
MIN_READ_INTERVAL_S = 0.05
BATCH = 200


async def emit(db: AsyncSession, *, type: str, session: Session, now: int, version: int = 0,
               file_id: str | None = None) -> None:
    """The event's id is its cursor, so ids must be handed out in commit order per tenant: the
    tenant's audit chain head is locked first (PostgreSQL assigns ids at insert, not at commit;
    without the lock a watcher could move past an id whose transaction commits later)."""
    assert type in EVENT_TYPES
    if session.internal:  # the bridge's own session: applications hear of its saves on their users' sessions
        return
    await audit.lock_chain(db, audit.chain_of(session.tenant_id))
    db.add(SessionEvent(tenant_id=session.tenant_id, type=type, time=now, session_id=session.id,
                        file_id=file_id or session.file_id, user_id=session.user_id, version=version,
                        account=session.account, origin_json=session.origin_json))


def origin(row: SessionEvent | Session) -> dict[str, str]:
    return dict(json.loads(row.origin_json or "{}"))


async def after(db: AsyncSession, *, tenant_id: str, event_id: int, limit: int = BATCH) -> Sequence[SessionEvent]:
    query = (select(SessionEvent).where(SessionEvent.tenant_id == tenant_id, col(SessionEvent.id) > event_id)
             .order_by(col(SessionEvent.id)).limit(limit))
    return (await db.exec(query)).all()


async def _last_id(db: AsyncSession, tenant_id: str) -> int:
    query = select(func.max(SessionEvent.id)).where(SessionEvent.tenant_id == tenant_id)
    return (await db.exec(query)).one() or 0


def _parse_cursor(ctx: ServiceContext, cursor: str) -> int | None:
    return None if cursor == "" else ctx.event_cursors.decode(cursor)


async def _still_allowed(db: AsyncSession, principal: Principal, tenant_id: str, incarnation: str) -> None:
    """A stream outlives its authentication: it ends when its key is revoked, or its tenant is
    disabled, deleted, or deleted and created again (a new tenant's events are not the old key's)."""
    key = await db.get(ApiKey, principal.key_id, populate_existing=True)
    if key is not None and key.revoke_time is not None:  # a deleted tenant's keys are gone: see below
        raise ApiKeyInvalid()
    tenant = await stores.get_tenant(db, tenant_id=tenant_id)
    if tenant is None or tenant.incarnation != incarnation:
        raise TenantNotFound(tenant_id)
    if not tenant.enabled:
        raise TenantDisabled(tenant_id)


async def watch(ctx: ServiceContext, principal: Principal, *, tenant_id: str,
                cursor: str) -> AsyncGenerator[SessionEvent, None]:
    """Yields the tenant's events after `cursor`, forever; the caller cancels to stop."""
    tenant_id = tenant_id or (principal.tenant_id or "")
    if not tenant_id:
        raise InvalidArgument("tenant_id", "admin keys must name the tenant to watch")
    require_tenant_visible(principal, tenant_id)
    position = _parse_cursor(ctx, cursor)
    with _slot(ctx, principal, tenant_id):
        async with ctx.read() as db:  # SQLite: reader connections, never the write lock
            tenant = await stores.get_tenant(db, tenant_id=tenant_id)
            if tenant is None:
                raise TenantNotFound(tenant_id)
            incarnation = tenant.incarnation
            if position is None:
                position = await _last_id(db, tenant_id)
        while True:
            started = time.monotonic()
            async with ctx.read() as db:
                await _still_allowed(db, principal, tenant_id, incarnation)
                rows = await after(db, tenant_id=tenant_id, event_id=position)
            for row in rows:
                assert row.id is not None
                position = row.id
                yield row
            if len(rows) < BATCH:
                await ctx.events.wait(IDLE_WAKEUP_S)
                await asyncio.sleep(max(0.0, started + MIN_READ_INTERVAL_S - time.monotonic()))


def _slot(ctx: ServiceContext, principal: Principal, tenant_id: str) -> AbstractContextManager[None]:
    """A tenant key's stream holds one of its tenant's slots while it runs (each stream polls the
    database); the operator's admin keys are not capped."""
    if principal.is_admin:
        return nullcontext()
    return ctx.event_streams.hold(tenant_id, ctx.limits.event_streams)
