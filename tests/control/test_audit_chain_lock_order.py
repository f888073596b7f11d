"""Lock orders against the audit chain (review m): DeleteStorage --force, which now ends each open
session with its "closed" event, against a bridged app's event and a launch code's redemption (each
locks its row, then the tenant's chain); an operator-wide CleanupSessions against the expiry job."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from control.db import bridge_store
from control.db.models import BridgeDocument, BridgeParticipant, SessionEvent
from control.services import bridge_common, sessions, storages
from control.services.context import Principal, ServiceContext
from tests.control.helpers import STORAGE, TENANT, FakeClock, OpenSession
from tests.control.test_deleted_records import Gate, _postgres_only, _until_waiting_or_done


async def _bridged(ctx: ServiceContext, opened) -> BridgeDocument:  # noqa: ANN001
    """A live Etherpad document of the session's file with the session as a present participant."""
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
    return doc


async def test_forced_delete_storage_never_deadlocks_with_a_bridge_app_event(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, database_url: str,
) -> None:
    """An Etherpad leave/join event (bridge_events._etherpad_event then _presence) locks its document
    (live_document_by_app_id(for_update=True)) and then the tenant's audit chain (common.record).
    DeleteStorage --force now locks the tenant's chain first (events.emit of each "closed" event)
    and then the document (bridge_admin.sessions_ended): the opposite order. Before f31e4c6 it
    deleted the bridge rows before its only audit record, in the event's order."""
    _postgres_only(database_url)
    opened = await open_session()
    await _bridged(ctx, opened)

    outcomes: dict[str, BaseException | None] = {"event": None}
    delete: asyncio.Task[None] | None = None
    try:
        async with ctx.transaction() as event:  # what the app's "leave" event does, in its order
            doc = await bridge_store.live_document_by_app_id(event, app_doc_id="pad-1", kind="etherpad",
                                                             for_update=True)
            assert doc is not None
            delete = asyncio.create_task(storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE,
                                                                 force=True))
            await _until_waiting_or_done(ctx, delete)
            await bridge_common.record(event, doc, "bridge.leave", ctx.clock(), actor="user:u-1",
                                       session_id=opened.session.row.id)
    except Exception as error:  # noqa: BLE001
        outcomes["event"] = error
    assert delete is not None
    [deleted] = await asyncio.wait_for(asyncio.gather(delete, return_exceptions=True), 60)
    outcomes["delete"] = deleted if isinstance(deleted, BaseException) else None

    failed = {name: repr(error)[:300] for name, error in outcomes.items() if error is not None}
    assert not failed, f"DeleteStorage --force and a bridge app event deadlocked on PostgreSQL: {failed}"


async def test_cleanup_sessions_racing_the_expiry_job_emits_one_expired_event_per_session(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator-wide CleanupSessions read the expired sessions without locking them and then
    waited for the chains it locks up front; the expiry job ended the same sessions meanwhile, and
    CleanupSessions ended them again: a second "expired" event for the webhook and watchers."""
    _postgres_only(database_url)
    opened = await open_session(ttl_seconds=60)
    clock.advance(seconds=600)

    gate = Gate(monkeypatch, sessions, "_lock_chains_in_order", "cleanup")
    cleanup = asyncio.create_task(sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False),
                                  name="cleanup")
    await asyncio.wait_for(gate.reached.wait(), 60)  # it has read its rows
    await sessions.expire_due_sessions(ctx)  # the job's round meanwhile
    gate.release.set()
    await asyncio.wait_for(cleanup, 60)
    await sessions.expire_due_sessions(ctx)  # whichever did not end it before

    async with ctx.sessions() as db:
        expired = (await db.exec(select(SessionEvent).where(
            col(SessionEvent.session_id) == opened.session.row.id, col(SessionEvent.type) == "expired"))).all()
    assert len(expired) == 1, f"{len(expired)} 'expired' events for one session"


async def test_forced_delete_storage_never_deadlocks_with_a_launch_code_redemption(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GET /host/<code> (sessions.redeem_launch_code) takes its code row (stores.take_once deletes it)
    and then records OpenHostPage in the tenant's chain. DeleteStorage --force now locks that chain
    first (events.emit of each "closed" event) and deletes the storage's launch codes after it;
    before f31e4c6 it deleted them before its only audit record, in the redemption's order."""
    from control.db import stores
    from control.db.models import Session
    from control.services import launch_codes

    _postgres_only(database_url)
    opened = await open_session()
    async with ctx.transaction() as db:
        row = await db.get(Session, opened.session.row.id)
        assert row is not None
        code = launch_codes.issue(db, session=row, access_token="token", action="https://editor.test/edit",
                                  favicon_url="", now=ctx.clock())

    gate = Gate(monkeypatch, stores, "get_session", "redeem")  # after take_once, before its audit record
    redeem = asyncio.create_task(sessions.redeem_launch_code(ctx, launch_code=code, client_address="192.0.2.1"),
                                 name="redeem")
    await asyncio.wait_for(gate.reached.wait(), 60)
    delete = asyncio.create_task(storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True))
    await _until_waiting_or_done(ctx, delete)
    gate.release.set()
    outcomes = await asyncio.wait_for(asyncio.gather(redeem, delete, return_exceptions=True), 60)

    deadlocked = [repr(o)[:300] for o in outcomes if isinstance(o, BaseException) and "eadlock" in repr(o)]
    assert not deadlocked, f"DeleteStorage --force and a launch code's redemption deadlocked: {deadlocked}"
