"""Audit retention: a tenant's records older than its audit_retention_days (0: forever) are
removed by a task of the control plane, hourly.

Only the oldest part of a chain is removed, up to its first record still within the retention
period, so the rest stays one unbroken chain; the head keeps the last removed record's id and
hash (the anchor) for verification to start from. The purge itself is audited in the tenant's
chain. The deployment's chain ("") is kept forever.
"""

from __future__ import annotations

import logging

from sqlmodel import select

from control.db import audit_store
from control.db.models import Tenant
from control.services import audit
from control.services.context import ServiceContext

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
PURGE_INTERVAL_S = 3600.0
ACTOR = "system:retention"


async def purge_tenant(ctx: ServiceContext, *, tenant_id: str, retention_days: int) -> int:
    """Removes the tenant's records older than `retention_days`; returns how many."""
    if retention_days <= 0:
        return 0
    now = ctx.clock()
    cutoff = now - retention_days * DAY_MS
    async with ctx.transaction() as db:
        head = await audit_store.head_for_update(db, chain=tenant_id)
        if head is None:
            return 0
        keep_from = await audit_store.first_id_since(db, chain=tenant_id, since_time=cutoff)
        last_removed = await audit_store.last_before(db, chain=tenant_id, before_id=keep_from)
        if last_removed is None or last_removed.id is None:
            return 0
        removed = await audit_store.delete_through(db, chain=tenant_id, last_id=last_removed.id)
        head.anchor_event_id, head.anchor_hash = last_removed.id, last_removed.hash
        head.purged += removed
        db.add(head)
        await audit.record(db, time=now, actor=ACTOR, operation="PurgeAuditEvents", outcome="ok",
                           tenant_id=tenant_id, detail=f"removed {removed} record(s) older than {retention_days} "
                                                       f"day(s), through #{last_removed.id}")
    log.info("audit retention: removed %d record(s) of tenant %s", removed, tenant_id)
    return removed


async def purge_expired(ctx: ServiceContext) -> dict[str, int]:
    """One round over every tenant with a retention period; returns the records removed per tenant."""
    async with ctx.sessions() as db:
        tenants = (await db.exec(select(Tenant.id, Tenant.audit_retention_days)
                                 .where(Tenant.audit_retention_days > 0))).all()
    removed = {}
    for tenant_id, days in tenants:
        removed[tenant_id] = await purge_tenant(ctx, tenant_id=tenant_id, retention_days=days)
    return removed

