"""A bridged user's session ended by CloseSession or by a forced DeleteStorage leaves its
"bridge.leave" record ("session ended") in the tenant's trail (review n)."""

from __future__ import annotations

from sqlmodel import col, select

from control.db.models import AuditEvent, BridgeDocument, BridgeParticipant
from control.services import sessions, storages
from control.services.context import Principal, ServiceContext
from tests.control.helpers import STORAGE, TENANT, OpenSession


async def _bridged(ctx: ServiceContext, opened) -> None:  # noqa: ANN001
    row = opened.session.row
    doc = BridgeDocument(id="doc-1", tenant_id=row.tenant_id, file_id=row.file_id, live_file_id=row.file_id,
                         editor_id=1, kind="etherpad", app_doc_id="pad-1", state="open",
                         create_time=ctx.clock(), update_time=ctx.clock())
    async with ctx.transaction() as db:
        db.add(doc)
        await db.flush()
        db.add(BridgeParticipant(document_id=doc.id, tenant_id=row.tenant_id, session_id=row.id, user_id="u-1",
                                 user_name="Ursula", can_write=True, app_author_id="a.1", present=True,
                                 join_time=ctx.clock()))


async def _leaves(ctx: ServiceContext, session_id: str) -> list[AuditEvent]:
    async with ctx.sessions() as db:
        return list((await db.exec(select(AuditEvent).where(
            col(AuditEvent.operation) == "bridge.leave", col(AuditEvent.session_id) == session_id))).all())


async def test_close_session_records_the_bridged_users_leave(
        ctx: ServiceContext, admin: Principal, open_session: OpenSession) -> None:
    """The reference behaviour: CloseSession of a bridged user's session."""
    opened = await open_session()
    await _bridged(ctx, opened)
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)
    assert len(await _leaves(ctx, opened.session.row.id)) == 1


async def test_forced_delete_storage_records_the_bridged_users_leave(
        ctx: ServiceContext, admin: Principal, open_session: OpenSession) -> None:
    opened = await open_session()
    await _bridged(ctx, opened)

    await storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True)

    leaves = await _leaves(ctx, opened.session.row.id)
    assert len(leaves) == 1, ("DeleteStorage --force ended a bridged user's session (its CloseSession record is "
                              "there) but the trail has no bridge.leave for it: sessions_ended ran after the "
                              "bridge rows were deleted and found no participation")
