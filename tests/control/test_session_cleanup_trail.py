"""The operator's CleanupSessions over every tenant: each tenant's trail should say its sessions were ended."""

from __future__ import annotations

from control.db.models import Storage
from control.services import audit_queries, sessions
from control.services.audit_queries import AuditFilter
from control.services.context import Principal, ServiceContext
from tests.control.helpers import FakeClock, OpenSession


async def test_an_operator_wide_cleanup_is_in_the_trail_of_each_tenant_whose_sessions_it_ended(
    ctx: ServiceContext, admin: Principal, acme_key: Principal, open_session: OpenSession, docs: Storage,
    clock: FakeClock,
) -> None:
    opened = await open_session(ttl_seconds=60)
    clock.advance(seconds=120)

    ended = await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False)
    assert [v.row.id for v in ended] == [opened.session.row.id]

    rows, _ = await audit_queries.list_events(ctx, acme_key, where=AuditFilter(operation="CleanupSessions"),
                                              page_size=100, page_token="")
    assert rows, ("the tenant's session was ended (its 'expired' event went out) but the tenant's trail has no "
                  "record of it: the operator-wide CleanupSessions is filed only in the deployment chain")
