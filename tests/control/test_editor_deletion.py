"""DeleteEditor and the sessions opened with the editor (control.services.editors): the editor's
proof policy goes with its row, so no session may stay open without it. DeleteEditor is refused
while such sessions are open (SESSIONS_OPEN, as DeleteStorage), `force` closes them, and a
session whose editor row is gone anyway is refused by every grant path (check_proof_of)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from control.db import grant_reads
from control.db.models import AuditEvent, Editor, Session, SessionEvent, Storage
from control.services import editors, wopi_access
from control.services.access_tokens import hash_token
from control.services.context import Principal, ServiceContext
from control.services.editors import EditorRegistry, ProofHeaders
from control.services.sessions import OpenedSession
from shared.errors import AccessTokenInvalid, FailedPrecondition, ProofInvalid
from shared.wopi_operation import WopiOperation
from tests.control.helpers import START_MS, TENANT, FakeClock, OpenSession, caller, with_writer_thread

DISCOVERY = (Path(__file__).resolve().parents[1] / "fixtures" / "discovery" / "collabora.xml").read_bytes()
EDITOR = "collabora"
UNSIGNED = ProofHeaders(proof="", proof_old="", timestamp="", url="http://wopi.test/wopi/files/x")


@pytest.fixture
async def registry(ctx: ServiceContext) -> AsyncIterator[EditorRegistry]:
    """Discovery documents served by a stand-in editor (Collabora's document)."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, stream=httpx.ByteStream(DISCOVERY),
                                                                     headers={"Content-Type": "text/xml"}))
    found = EditorRegistry(ctx, client=httpx.AsyncClient(transport=transport))
    yield found
    await found.close()


@pytest.fixture
async def editor(ctx: ServiceContext, registry: EditorRegistry, admin: Principal, docs: Storage) -> Editor:
    """TENANT's own editor, proof policy "off": its sessions' unsigned requests are granted."""
    return await editors.create_editor(ctx, registry, admin, name=EDITOR, tenant_id=TENANT,
                                       discovery_url="http://editor.test/hosting/discovery", proof_policy="off")


async def open_with_editor(open_session: OpenSession, registry: EditorRegistry, **overrides: Any) -> OpenedSession:
    return await open_session(editor=EDITOR, editors=registry, **overrides)


async def session_row(ctx: ServiceContext, session_id: str) -> Session:
    async with ctx.sessions() as db:
        row = await db.get(Session, session_id)
    assert row is not None
    return row


async def test_deleting_an_editor_with_open_sessions_is_refused(
    ctx: ServiceContext, registry: EditorRegistry, admin: Principal, editor: Editor, open_session: OpenSession
) -> None:
    opened = await open_with_editor(open_session, registry)

    with pytest.raises(FailedPrecondition) as refused:
        await editors.delete_editor(ctx, admin, name=EDITOR, tenant_id=TENANT)

    assert (refused.value.reason, refused.value.metadata) == ("SESSIONS_OPEN", {"tenant_id": TENANT, "editor": EDITOR})
    assert (await editors.get_editor(ctx, admin, name=EDITOR, tenant_id=TENANT)).id == editor.id
    assert (await session_row(ctx, opened.session.row.id)).close_time is None


async def test_closed_and_expired_sessions_do_not_hold_an_editor_back(
    ctx: ServiceContext, clock: FakeClock, registry: EditorRegistry, admin: Principal, editor: Editor,
    open_session: OpenSession
) -> None:
    await open_with_editor(open_session, registry, ttl_seconds=60)
    closed = await open_with_editor(open_session, registry, ttl_seconds=3600)
    async with ctx.transaction() as db:
        row = await db.get(Session, closed.session.row.id)
        assert row is not None
        row.close_time = START_MS
        db.add(row)
    clock.advance(seconds=61)

    await editors.delete_editor(ctx, admin, name=EDITOR, tenant_id=TENANT)

    assert await editors.list_editors(ctx, registry, admin, tenant_id=TENANT) == []


async def test_a_forced_delete_closes_the_editors_open_sessions_with_their_closed_events(
    ctx: ServiceContext, clock: FakeClock, registry: EditorRegistry, admin: Principal, editor: Editor,
    open_session: OpenSession
) -> None:
    first, second = await open_with_editor(open_session, registry), await open_with_editor(open_session, registry)
    without_editor = await open_session()
    clock.advance(seconds=5)

    await editors.delete_editor(ctx, admin, name=EDITOR, tenant_id=TENANT, force=True)

    assert [(await session_row(ctx, s.session.row.id)).close_time for s in (first, second, without_editor)] == [
        clock.now_ms, clock.now_ms, None]
    async with ctx.sessions() as db:
        closed = (await db.exec(select(SessionEvent.session_id).where(SessionEvent.type == "closed"))).all()
    assert sorted(closed) == sorted([first.session.row.id, second.session.row.id])
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(first), operation="GetFile", proof=UNSIGNED, editors=registry)


async def test_a_forced_delete_is_audited_with_the_number_of_sessions_it_closed(
    ctx: ServiceContext, registry: EditorRegistry, admin: Principal, editor: Editor, open_session: OpenSession
) -> None:
    await open_with_editor(open_session, registry)
    await open_with_editor(open_session, registry)

    await editors.delete_editor(ctx, admin, name=EDITOR, tenant_id=TENANT, force=True)

    async with ctx.sessions() as db:
        record = (await db.exec(select(AuditEvent).where(AuditEvent.operation == "DeleteEditor"))).one()
    assert (record.tenant_id, record.actor, record.outcome, record.detail) == (
        TENANT, admin.actor, "ok", f"editor={EDITOR} force=True closed_sessions=2")


# -- a session whose editor row is gone -------------------------------------------------------------


@pytest.fixture(params=["transaction", "writer-thread"])
async def grant_ctx(request: pytest.FixtureRequest, ctx: ServiceContext, database_url: str, engine: AsyncEngine
                    ) -> AsyncIterator[ServiceContext]:
    """The grant through ServiceContext.transaction, or on the writer thread (control.db.writer)."""
    if request.param == "transaction":
        yield ctx
        return
    async for with_writer in with_writer_thread(ctx, database_url, engine):
        yield with_writer


async def remove_editor_row(ctx: ServiceContext, editor: Editor) -> None:
    """The row gone under open sessions (as a delete racing a CreateSession that chose the editor leaves it)."""
    async with ctx.transaction() as db:
        row = await db.get(Editor, editor.id)
        assert row is not None
        await db.delete(row)


@pytest.mark.parametrize("operation", [WopiOperation.GET_FILE, WopiOperation.LOCK])
async def test_a_session_whose_editor_row_is_gone_is_refused(
    grant_ctx: ServiceContext, registry: EditorRegistry, editor: Editor, open_session: OpenSession,
    operation: WopiOperation
) -> None:
    """One grant at a time: the transaction's read (check_proof), or the writer thread's own read
    of the grant (read_grant; FOR UPDATE for a lock)."""
    opened = await open_with_editor(open_session, registry)
    await wopi_access.authorize(grant_ctx, caller(opened), operation=operation, lock_id="L1", proof=UNSIGNED,
                                editors=registry)  # granted while the editor exists
    await remove_editor_row(grant_ctx, editor)

    with pytest.raises(ProofInvalid, match="editor was removed"):
        await wopi_access.authorize(grant_ctx, caller(opened), operation=operation, lock_id="L1", proof=UNSIGNED,
                                    editors=registry)


async def test_a_session_whose_editor_row_is_gone_is_refused_in_a_batch_of_grants(
    ctx: ServiceContext, database_url: str, engine: AsyncEngine, registry: EditorRegistry, editor: Editor,
    open_session: OpenSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grants queued while the writer thread is busy are read together (grant_reads.read_grants)."""
    opened = [await open_with_editor(open_session, registry) for _ in range(3)]
    await remove_editor_row(ctx, editor)
    batches: list[list[str]] = []
    read_grants = grant_reads.read_grants

    def recording(conn: Any, token_hashes: list[str]) -> Any:
        batches.append(sorted(token_hashes))
        return read_grants(conn, token_hashes)

    monkeypatch.setattr(grant_reads, "read_grants", recording)
    async for writer_ctx in with_writer_thread(ctx, database_url, engine):
        assert writer_ctx.decisions is not None
        busy, release = threading.Event(), threading.Event()
        blocker = asyncio.create_task(writer_ctx.decisions.run(lambda _tx: (busy.set(), release.wait(10))))
        assert await asyncio.to_thread(busy.wait, 10)
        grants = [asyncio.create_task(wopi_access.authorize(writer_ctx, caller(o), operation="GetFile",
                                                            proof=UNSIGNED, editors=registry)) for o in opened]
        await asyncio.sleep(0.1)  # all queued behind the blocker: the next batch holds them all
        release.set()
        await blocker
        outcomes = await asyncio.gather(*grants, return_exceptions=True)

    assert batches and batches[0] == sorted(hash_token(o.access_token) for o in opened)
    assert [type(outcome).__name__ for outcome in outcomes] == ["ProofInvalid"] * 3
