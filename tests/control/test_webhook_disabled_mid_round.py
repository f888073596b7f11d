"""Webhooks of a disabled tenant are held (commit 9010429), but only checked when a round starts:
the round already under way POSTs the rest of its batch (up to 50 events, each up to 15 s) on
behalf of a tenant the operator has disabled."""

from __future__ import annotations

import asyncio

from control.db.models import SessionEvent, Tenant, WebhookState
from control.services.context import Principal, ServiceContext
from control.services import tenants
from control.services.tenants import TenantSettings
from control.services.webhooks import WebhookDispatcher
from tests.control.helpers import TENANT


class Recording(WebhookDispatcher):
    def __init__(self, ctx: ServiceContext, admin: Principal) -> None:
        super().__init__(ctx)
        self.admin, self.posted = admin, []

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.posted.append(headers["X-Wopi-Proxy-Event-Id"])
        if len(self.posted) == 1:  # the operator disables the tenant while its first event is on its way
            await tenants.update_tenant(self._ctx, self.admin, tenant_id=TENANT, paths=["enabled"], name=None,
                                        enabled=False, settings=TenantSettings())
        return 200


async def test_no_webhook_is_posted_once_its_tenant_is_disabled(
    ctx: ServiceContext, acme: Tenant, admin: Principal,
) -> None:
    async with ctx.transaction() as db:
        row = await db.get(Tenant, TENANT)
        row.webhook_url = "https://hooks.example/acme"
        db.add(row)
        db.add(WebhookState(tenant_id=TENANT, delivered_event_id=0))
        for i in range(5):
            db.add(SessionEvent(tenant_id=TENANT, type="opened", time=1, session_id=f"s-{i}"))

    dispatcher = Recording(ctx, admin)
    await dispatcher.deliver_due()
    await asyncio.wait_for(asyncio.gather(*dispatcher._running.values()), 30)

    async with ctx.sessions() as db:
        assert (await db.get(Tenant, TENANT)).enabled is False
    assert len(dispatcher.posted) == 1, (f"{len(dispatcher.posted) - 1} webhooks POSTed on behalf of the tenant "
                                         "after it was disabled")
