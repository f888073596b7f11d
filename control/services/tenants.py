"""Tenants: the organisations sharing a deployment."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from control.db import pages, stores
from control.db.models import Tenant
from control.services import audit, validation
from control.services.access import require_admin
from control.services.context import Principal, ServiceContext
from shared.errors import TenantAlreadyExists, TenantNotFound


async def create_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str, name: str) -> Tenant:
    require_admin(principal)
    validation.tenant_id(tenant_id, "id")
    validation.text(name, "name", max_length=200)
    now = ctx.clock()
    try:
        async with ctx.transaction() as db:
            if await stores.get_tenant(db, tenant_id=tenant_id) is not None:
                raise TenantAlreadyExists(tenant_id)
            tenant = Tenant(id=tenant_id, name=name, enabled=True, create_time=now)
            await stores.add(db, tenant)
            await audit.record(db, time=now, actor=principal.actor, operation="CreateTenant", outcome="ok",
                               tenant_id=tenant_id)
    except IntegrityError as exc:  # a concurrent create won the race
        raise TenantAlreadyExists(tenant_id) from exc
    return tenant


async def get_tenant(ctx: ServiceContext, principal: Principal, *, tenant_id: str) -> Tenant:
    require_admin(principal)
    async with ctx.sessions() as db:
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
    if tenant is None:
        raise TenantNotFound(tenant_id)
    return tenant


async def list_tenants(
    ctx: ServiceContext, principal: Principal, *, page_size: int, page_token: str
) -> tuple[Sequence[Tenant], str]:
    require_admin(principal)
    limit = pages.page_size(page_size)
    after = pages.decode(page_token)
    if after is not None and not isinstance(after, str):
        raise pages.InvalidArgument("page_token", "not a token returned by this API")
    async with ctx.sessions() as db:
        rows = await stores.list_tenants(db, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode(rows[-1].id) if more else ""
