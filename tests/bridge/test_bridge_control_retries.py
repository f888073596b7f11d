"""Retries of bridge work have a ceiling: a save that fails the same way at every attempt (an
unexpected error in the worker, which it reports as RETRY) fails the document after
bridge_work.MAX_ATTEMPTS attempts, with a reason for the operator, and lets go of the file's
lock, so that WOPI editors are not locked out for good. The control plane's services run in
process on a SQLite database with the services' injected clock, so that backoffs of minutes
pass without sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from control.db.engine import create_engine, create_schema, session_factory
from control.db.models import AuditEvent, Editor, File, Session
from control.services import bridge_admin, bridge_open, bridge_work, locks, sessions, storages, tenants
from control.services.context import Principal, ServiceContext
from control.services.storage_policy import StoragePolicy

TENANT, START_MS = "acme", 1_700_000_000_000
SHA = "ab" * 32
ADMIN = Principal(key_id="key_admin", role="admin")


class Clock:
    def __init__(self) -> None:
        self.now_ms = START_MS

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
async def bridged(tmp_path: Path) -> AsyncIterator[tuple[ServiceContext, Clock, str]]:
    """A context, its clock and a writer's access token for notes.txt in an Etherpad editor."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    await create_schema(engine)
    clock = Clock()
    ctx = ServiceContext(sessions=session_factory(engine), wopi_base_url="http://wopi.test", clock=clock,
                         storage_policy=StoragePolicy(tenant_file_base=tmp_path / "tenants"))
    root = tmp_path / "storage"
    root.mkdir()
    (root / "notes.txt").write_bytes(b"hello\n")
    await tenants.create_tenant(ctx, ADMIN, tenant_id=TENANT, name="Acme")
    await storages.create_storage(ctx, ADMIN, tenant_id=TENANT, name="docs", protocol="file", root=str(root),
                                  options={})
    opened = await sessions.create_session(ctx, ADMIN, tenant_id=TENANT, storage_name="docs", path="notes.txt",
                                           user_id="ann", user_name="Ann", permission="edit", ttl_seconds=0)
    async with ctx.transaction() as db:  # the editor row as CreateEditor makes it (no registry here)
        editor = Editor(tenant_id=TENANT, name="pad", discovery_url="", kind="etherpad",
                        app_url="http://127.0.0.1:9/", create_time=START_MS)
        db.add(editor)
        await db.flush()
        session = await db.get(Session, opened.session.row.id)
        assert session is not None
        session.editor_id = editor.id
        db.add(session)
    yield ctx, clock, opened.access_token
    await engine.dispose()


async def _file(ctx: ServiceContext, file_id: str) -> File:
    async with ctx.sessions() as db:
        row = await db.get(File, file_id)
    assert row is not None
    return row


async def test_a_save_failing_at_every_attempt_fails_the_document_and_lets_go_of_the_lock(
        bridged: tuple[ServiceContext, Clock, str]) -> None:
    ctx, clock, token = bridged
    opened = await bridge_open.open_bridged(ctx, access_token=token, client_address="198.51.100.7")
    doc = opened.view.doc
    assert opened.load and opened.can_write and doc.lock_id
    await bridge_work.complete(ctx, document_id=doc.id, lease_token=opened.lease_token, outcome=bridge_work.Outcome(
        "loaded", app_rev=1, sha256=SHA, size=6, file_version=opened.view.file.version))
    assert locks.current_lock(await _file(ctx, doc.file_id), clock()) == doc.lock_id
    await bridge_admin.save_now(ctx, ADMIN, document_id=doc.id)  # a save is due (as after a change)

    saves = 0
    for _ in range(3 * bridge_work.MAX_ATTEMPTS):
        items = [i for i in await bridge_work.claim(ctx, worker_id="w1", max_items=8) if i.view.doc.id == doc.id]
        if items and items[0].kind == bridge_work.SAVE:
            saves += 1
            shown = await bridge_work.complete(ctx, document_id=doc.id, lease_token=items[0].lease_token,
                                               outcome=bridge_work.Outcome(
                                                   "retry", detail="internal error (UnicodeEncodeError)"))
            if shown.doc.state == "failed":
                break
        elif items:  # a poll between the attempts
            await bridge_work.complete(ctx, document_id=doc.id, lease_token=items[0].lease_token,
                                       outcome=bridge_work.Outcome("polled", app_rev=1))
        clock.now_ms += bridge_work.MAX_BACKOFF_MS

    failed = (await bridge_admin.get_document(ctx, ADMIN, document_id=doc.id)).doc
    assert failed.state == "failed", (saves, failed)
    assert saves == bridge_work.MAX_ATTEMPTS
    assert f"gave up after {bridge_work.MAX_ATTEMPTS} attempts" in failed.last_error
    assert "UnicodeEncodeError" in failed.last_error
    # The lock is let go at once (not left to lapse): a WOPI editor can lock and save.
    file = await _file(ctx, doc.file_id)
    assert locks.current_lock(file, clock()) == ""
    async with ctx.sessions() as db:
        operations = [e.operation for e in (await db.exec(select(AuditEvent).where(
            AuditEvent.file_id == doc.file_id))).all()]
    assert "bridge.unlock" in operations and "bridge.close" not in operations
    # Nothing more is tried, and the app's copy (what was typed) is not removed.
    clock.now_ms += bridge_work.MAX_BACKOFF_MS
    assert [i for i in await bridge_work.claim(ctx, worker_id="w1", max_items=8) if i.view.doc.id == doc.id] == []
    # The operator's save-now tries again, from a fresh count.
    retried = (await bridge_admin.save_now(ctx, ADMIN, document_id=doc.id)).doc
    assert retried.state == "open" and retried.attempts == 0
