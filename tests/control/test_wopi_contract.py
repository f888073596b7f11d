"""The typed WOPI call contract and the write protocol in the control plane (shared/wopi_operation.py,
control/services/wopi_changes.py, write_intents.py, deadlines.py), on SQLite and PostgreSQL:
every lock decision is made in the compare-and-set, staleness signals apply locked or not, an
unconfirmed write is resolved from storage, and no commit outlives its caller's deadline."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
from sqlmodel import select
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from control.db.models import AuditEvent, File, WriteIntent
from control.services import deadlines, files, wopi_access, wopi_changes, write_intents
from control.services.context import Principal, ServiceContext
from control.services.wopi_changes import Staged, Stored, WriteRequest
from shared.errors import (
    DeadlineExceeded,
    FileLocked,
    LockConflict,
    OperationNotPermitted,
    TimestampConflict,
    WriteInProgress,
)
from shared.storage import version_object_path
from shared.wopi_operation import POLICIES, WopiOperation
from tests.control.helpers import TENANT, FakeClock, OpenSession, caller, file_row

PUT = WopiOperation.PUT_FILE
STAMP = "2026-01-01T00:00:00.000000Z"


def test_the_proto_enum_mirrors_the_operation_table() -> None:
    """One contract: the wire enum and the policy table name the same operations, same numbers."""
    wire = {v.name.removeprefix("WOPI_OPERATION_"): v.number
            for v in edge_pb.WopiOperation.DESCRIPTOR.values if v.number}
    assert wire == {op.name: policy.number for op, policy in POLICIES.items()}


def test_every_lock_sensitive_write_is_decided_in_the_control_plane() -> None:
    for op in WopiOperation:
        if op.lock_sensitive:
            assert op.policy.decided.value in ("control", "two-phase"), op


async def _begin(ctx: ServiceContext, opened: object, **fields: object) -> wopi_changes.Begun:
    request = WriteRequest(**{"operation": PUT, "current": Stored(exists=True, size=17, modified=STAMP),
                              "staged": Staged(size=3, sha256=hashlib.sha256(b"new").hexdigest()), **fields})
    return await wopi_changes.begin(ctx, caller(opened), request)  # type: ignore[arg-type]


async def _audit(ctx: ServiceContext, operation: str) -> list[AuditEvent]:
    async with ctx.sessions() as db:
        return list((await db.exec(select(AuditEvent).where(AuditEvent.operation == operation)
                                   .order_by(AuditEvent.id))).all())  # type: ignore[arg-type]


async def test_put_file_with_another_lock_is_refused_by_the_cas_and_records_no_intent(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")

    with pytest.raises(LockConflict) as refused:
        await _begin(ctx, opened, lock_id="L2")

    assert refused.value.current_lock == "L1"
    row = await file_row(ctx, opened.session.row.file_id)
    assert (row.version, row.pending_intent_id) == (1, None)


async def test_an_unlocked_non_empty_file_refuses_a_lockless_editor(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    with pytest.raises(LockConflict) as refused:
        await _begin(ctx, opened)
    assert refused.value.current_lock == ""


async def test_a_stale_timestamp_is_refused_even_when_the_editor_holds_the_lock(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """The attack: an external change (a restore, a sync client) overwritten silently by an
    editor that holds the lock; Collabora's X-COOL-WOPI-Timestamp says it saw older content."""
    opened = await open_session()
    await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")

    with pytest.raises(TimestampConflict):
        await _begin(ctx, opened, lock_id="L1", editor_timestamp="2025-12-31T23:59:59.000000Z",
                     timestamp_editor=True)
    begun = await _begin(ctx, opened, lock_id="L1", editor_timestamp=STAMP, timestamp_editor=True)
    assert not begun.done


async def test_a_view_session_cannot_begin_a_write(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(permission="view")
    with pytest.raises(OperationNotPermitted):
        await _begin(ctx, opened, timestamp_editor=True)


async def test_a_second_write_waits_while_one_is_pending(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()
    await _begin(ctx, opened, timestamp_editor=True)
    with pytest.raises(WriteInProgress):
        await _begin(ctx, opened, timestamp_editor=True)


async def test_an_unpublished_intent_is_abandoned_after_its_ttl_and_audited_as_failed(
    ctx: ServiceContext, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session()
    begun = await _begin(ctx, opened, timestamp_editor=True)
    assert await write_intents.settle(ctx, begun.intent_id) == write_intents.PENDING  # the writer may be busy

    clock.advance(ms=write_intents.INTENT_TTL_MS)
    assert await write_intents.sweep(ctx) == 1

    row = await file_row(ctx, opened.session.row.file_id)
    assert (row.version, row.pending_intent_id) == (1, None)
    failed = [e for e in await _audit(ctx, "PutFile") if e.outcome == "failed"]
    assert len(failed) == 1 and begun.intent_id in failed[0].detail


async def test_a_published_intent_is_confirmed_from_storage_at_the_next_access(
    ctx: ServiceContext, open_session: OpenSession, storage_root: Path
) -> None:
    """The edge died after publishing: storage holds the new bytes, so the database must say so."""
    opened = await open_session()
    begun = await _begin(ctx, opened, timestamp_editor=True)
    (storage_root / "doc.docx").write_bytes(b"new")  # what the edge's publish did

    grant = await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")

    assert (grant.file.version, grant.file.sha256) == (2, hashlib.sha256(b"new").hexdigest())
    [confirmed] = [e for e in await _audit(ctx, "PutFile") if e.version_after == 2]
    assert (confirmed.outcome, confirmed.status) == ("ok", 0)  # the editor's answer is unknown
    async with ctx.sessions() as db:
        intent = await db.get(WriteIntent, begun.intent_id)
    assert intent is not None and intent.state == write_intents.CONFIRMED


async def test_commit_is_idempotent(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()
    begun = await _begin(ctx, opened, timestamp_editor=True)
    first = await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)
    again = await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)
    assert first.version == again.version == 2
    assert (await file_row(ctx, opened.session.row.file_id)).version == 2


async def test_a_restore_of_a_locked_file_leaves_its_bytes_alone(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, storage_root: Path
) -> None:
    """The attack: `files restore` overwrote the bytes of a file an editor held the lock of (its
    lock check was a stale read outside the compare-and-set)."""
    opened = await open_session()
    file_id = opened.session.row.file_id
    kept = storage_root / version_object_path(file_id, 1)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(b"old version")
    async with ctx.transaction() as db:
        from control.services import versions
        row = await db.get(File, file_id)
        assert row is not None
        await versions.keep(db, file=row, version=1, size=11, reason="save", replaced_by="u", retention=5, now=1)
    await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")

    with pytest.raises(FileLocked):
        await files.restore_version(ctx, admin, tenant_id=TENANT, file_id=file_id, version=1)

    assert (storage_root / "doc.docx").read_bytes() == b"PK\x03\x04 a document"
    assert (await file_row(ctx, file_id)).version == 1
    assert not [p for p in storage_root.iterdir() if p.name.startswith(".~wopi-")]


async def test_no_commit_after_the_callers_deadline(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()
    with deadlines.budget(0.0), pytest.raises(DeadlineExceeded):
        await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")
    grant = await wopi_access.authorize(ctx, caller(opened), operation="GetLock")
    assert grant.lock_id == ""


async def test_no_commit_once_the_caller_went_away(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()
    with deadlines.budget(None) as budget, pytest.raises(DeadlineExceeded):
        budget.abandoned = True
        await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")
    assert (await wopi_access.authorize(ctx, caller(opened), operation="GetLock")).lock_id == ""


async def test_a_database_held_by_another_writer_does_not_outlive_the_deadline(
    ctx: ServiceContext, database_url: str, open_session: OpenSession
) -> None:
    """SQLite: another process holds the write lock (BEGIN IMMEDIATE); PostgreSQL: another
    connection holds the file row (FOR UPDATE). The LOCK gives up at its deadline, not later,
    and leaves no lock behind."""
    opened = await open_session()
    file_id = opened.session.row.file_id
    if database_url.startswith("sqlite"):
        other: object = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
    else:
        other = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
        other.execute("SELECT id FROM files WHERE id = %s FOR UPDATE", (file_id,))  # type: ignore[attr-defined]
    started = time.monotonic()
    try:
        with deadlines.budget(1.0), pytest.raises(DeadlineExceeded):
            await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")
        assert time.monotonic() - started < 5.0
    finally:
        other.rollback() if hasattr(other, "rollback") else None  # type: ignore[attr-defined]
        other.close()  # type: ignore[attr-defined]
    assert (await wopi_access.authorize(ctx, caller(opened), operation="GetLock")).lock_id == ""


async def test_resolved_intents_are_forgotten_after_their_retention(
    ctx: ServiceContext, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session()
    begun = await _begin(ctx, opened, timestamp_editor=True)
    await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)
    clock.advance(ms=write_intents.RESOLVED_RETENTION_MS - 1)
    await write_intents.sweep(ctx)
    async with ctx.sessions() as db:
        assert await db.get(WriteIntent, begun.intent_id) is not None
    clock.advance(ms=2)
    await write_intents.sweep(ctx)
    async with ctx.sessions() as db:
        assert await db.get(WriteIntent, begun.intent_id) is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_settling_an_intent_chosen_as_a_deadlock_victim_settles_again(
    ctx: ServiceContext, open_session: OpenSession, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A decision batch locks a file and then an intent (its decisions' order); settle locks the
    intent and then its file. When PostgreSQL breaks that deadlock by failing settle's transaction,
    settle must settle again, not fail the request that asked for it."""
    caplog.set_level(logging.INFO, logger="control.db.deadlocks")
    opened = await open_session()
    begun = await _begin(ctx, opened, timestamp_editor=True)
    url = database_url.replace("+psycopg", "")
    with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as monitor:
        blocker.execute("SET deadlock_timeout = '60s'")  # so that settle, not the blocker, is the victim
        blocker.execute("SELECT id FROM files WHERE id = %s FOR UPDATE", (opened.session.row.file_id,))
        settling = asyncio.ensure_future(write_intents.settle(ctx, begun.intent_id))
        deadline = time.monotonic() + 30
        while not monitor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
                                  (blocker.info.backend_pid,)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline and not settling.done(), "settle never waited for the file"
            await asyncio.sleep(0.02)
        # The blocker now asks for the intent settle holds: a cycle, which settle's backend detects.
        asked = asyncio.get_running_loop().run_in_executor(None, lambda: blocker.execute(
            "SELECT id FROM write_intents WHERE id = %s FOR UPDATE", (begun.intent_id,)).fetchall())
        await asyncio.wait_for(asked, 30)
        blocker.rollback()
    assert await asyncio.wait_for(settling, 30) == write_intents.PENDING
    assert "met a deadlock; running it again" in caplog.text
