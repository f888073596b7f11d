"""The session-expiry job (and an operator-wide CleanupSessions) extends several tenants' audit
chains in one transaction. It locked their heads in the sessions' expiry order, while the decision
writer and every other writer lock chains in sorted order: on PostgreSQL the two deadlocked and
one of them failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from control.services import audit, sessions, storages
from control.services.context import Principal, ServiceContext
from tests.control.helpers import OTHER_TENANT, STORAGE, TENANT, FakeClock, OpenSession
from tests.control.test_deleted_records import _postgres_only, _until_waiting_or_done


async def test_expiry_of_several_tenants_sessions_never_deadlocks_with_a_writer_holding_one_chain(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex, clock: FakeClock,
    database_url: str, tmp_path: Path,
) -> None:
    _postgres_only(database_url)
    globex_root = tmp_path / "globex"
    globex_root.mkdir()
    (globex_root / "g.docx").write_bytes(b"g")
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name=STORAGE, protocol="file",
                                  root=str(globex_root), options={})
    # Expiry order: globex's session first, then acme's; sorted order: acme ("acme" < "globex").
    await open_session(tenant_id=OTHER_TENANT, path="g.docx", ttl_seconds=60)
    await open_session(path="doc.docx", ttl_seconds=120)
    clock.advance(seconds=600)

    async with ctx.transaction() as writer:  # a writer extending acme's chain, then globex's
        await audit.lock_chain(writer, audit.chain_of(TENANT))
        expiry = asyncio.create_task(sessions.expire_due_sessions(ctx))
        await _until_waiting_or_done(ctx, expiry)
        await audit.lock_chain(writer, audit.chain_of(OTHER_TENANT))
    expired = await asyncio.wait_for(expiry, 60)

    assert expired == 2
