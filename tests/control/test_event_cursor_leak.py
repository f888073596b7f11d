"""Opaque cursors (control.services.event_cursors) stop a tenant from counting other tenants' events
between two of its own only if it cannot seek to a deployment-wide id either (review k, F3)."""

from __future__ import annotations

import asyncio

import pytest

from control.db.models import SessionEvent, Tenant
from control.services import events
from control.services.context import Principal, ServiceContext
from shared.errors import InvalidArgument
from tests.control.helpers import OTHER_TENANT, TENANT


async def _add(ctx: ServiceContext, tenant_id: str, session_id: str) -> None:
    async with ctx.transaction() as db:
        db.add(SessionEvent(tenant_id=tenant_id, type="opened", time=1, session_id=session_id))


async def _first_after(ctx: ServiceContext, key: Principal, cursor: str) -> str:
    """What a tenant's WatchSessionEvents from `cursor` shows first (its session id).

    The wait is generous: a loaded machine may take seconds to poll (0.3 s failed in CI)."""
    stream = events.watch(ctx, key, tenant_id=TENANT, cursor=cursor)
    try:
        row = await asyncio.wait_for(anext(stream), 30)
        return row.session_id
    finally:
        await stream.aclose()


async def test_a_tenant_key_cannot_seek_to_a_deployment_wide_event_id(
    ctx: ServiceContext, acme: Tenant, globex: Tenant, acme_key: Principal,
) -> None:
    """Before: a binary search over plain ids recovered the id behind each opaque cursor (7 events of
    another tenant counted between two of its own). Plain ids are refused; "0" still starts at the oldest."""
    await _add(ctx, TENANT, "acme-1")
    for i in range(7):
        await _add(ctx, OTHER_TENANT, f"globex-{i}")
    await _add(ctx, TENANT, "acme-2")

    for plain in ("1", "3", "8"):
        with pytest.raises(InvalidArgument):
            await _first_after(ctx, acme_key, plain)
    assert await _first_after(ctx, acme_key, "0") == "acme-1"
