"""DeleteTenant and DeleteStorage (with force) racing work in flight, and what they leave behind:
a tenant created later under the same id inherits nothing, and no write intent stays pending for
ever (control.db.stores.hold_tenant / lock_records_of; write_intents.retire_with_files)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from control.db import stores
from control.db.models import Storage, Tenant, WriteIntent
from control.services import keys, sessions, storages, tenants, wopi_access, wopi_changes, write_intents
from control.services.context import Principal, ServiceContext
from control.services.wopi_changes import Staged, WriteRequest
from shared.errors import TenantNotFound, WopiProxyError
from shared.wopi_operation import WopiOperation
from tests.control.helpers import STORAGE, TENANT, FakeClock, OpenSession, caller


def _postgres_only(database_url: str) -> None:
    # On SQLite every write transaction is exclusive, so the interleaving below cannot happen.
    if database_url.startswith("sqlite"):
        pytest.skip("the race needs concurrent transactions (PostgreSQL)")


async def _until_waiting_or_done(ctx: ServiceContext, task: asyncio.Task[object]) -> None:
    """Polls until `task` waits for a row lock (PostgreSQL) or has finished."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not task.done() and loop.time() < deadline:
        async with ctx.sessions() as db:
            waiting = (await db.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.02)


class Gate:
    """Pauses the first call of `name` on `module` made by `task_name`'s task until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str, task_name: str) -> None:
        self.reached, self.release = asyncio.Event(), asyncio.Event()
        original = getattr(module, name)

        async def paused(*args: object, **kwargs: object) -> object:
            task = asyncio.current_task()
            if task is not None and task.get_name() == task_name and not self.reached.is_set():
                self.reached.set()
                await self.release.wait()
            return await original(*args, **kwargs)

        monkeypatch.setattr(module, name, paused)


async def test_put_user_info_racing_delete_tenant_leaves_no_user_info_for_a_new_tenant_of_that_id(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, database_url: str, storage_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _postgres_only(database_url)
    opened = await open_session(user_id="u-1")
    gate = Gate(monkeypatch, stores, "get_user_info", "put-user-info")
    put = asyncio.create_task(wopi_access.authorize(ctx, caller(opened), operation="PutUserInfo",
                                                    user_info="the old tenant's private note"),
                              name="put-user-info")
    await asyncio.wait_for(gate.reached.wait(), 60)  # the PutUserInfo has read its session: it is granted

    delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
    await _until_waiting_or_done(ctx, delete)
    gate.release.set()
    await asyncio.wait_for(asyncio.gather(put, delete), 60)
    monkeypatch.undo()

    # A new organisation gets the id; its user u-1 must not read what the deleted tenant's u-1 stored.
    await tenants.create_tenant(ctx, admin, tenant_id=TENANT, name="Another Acme")
    await storages.create_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, protocol="file",
                                  root=str(storage_root), options={})
    fresh = await sessions.create_session(ctx, admin, tenant_id=TENANT, storage_name=STORAGE, path="doc.docx",
                                          user_id="u-1", user_name="Ulla", permission="edit", ttl_seconds=0)
    grant = await wopi_access.authorize(ctx, caller(fresh), operation="CheckFileInfo")
    assert grant.user_info == "", "a tenant created under a deleted tenant's id reads that tenant's UserInfo"


async def test_create_api_key_racing_delete_tenant_leaves_no_key_for_a_new_tenant_of_that_id(
    ctx: ServiceContext, admin: Principal, acme: Tenant, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _postgres_only(database_url)
    gate = Gate(monkeypatch, stores, "add", "create-key")  # after it read the tenant, before its insert
    create = asyncio.create_task(keys.create_key(ctx, admin, tenant_id=TENANT, description="for acme"),
                                 name="create-key")
    await asyncio.wait_for(gate.reached.wait(), 60)
    delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
    await _until_waiting_or_done(ctx, delete)
    gate.release.set()
    created = await asyncio.wait_for(asyncio.gather(create, return_exceptions=True), 60)
    await asyncio.wait_for(delete, 60)

    [outcome] = created
    assert not isinstance(outcome, BaseException), outcome  # the key was handed out for the tenant being deleted
    _, secret = outcome

    await tenants.create_tenant(ctx, admin, tenant_id=TENANT, name="Another Acme")
    try:
        principal = await keys.Authenticator(ctx).authenticate(f"Bearer {secret}")
    except WopiProxyError:
        return  # refused: sound
    raise AssertionError(f"a key handed out while the old tenant was deleted is now {principal} of the new tenant "
                         "of that id")


async def _pending_writes(ctx: ServiceContext, open_session: OpenSession, storage_root: Path, n: int,
                          prefix: str) -> list[str]:
    """n files of TENANT with a write begun and never committed (an edge that died mid-save)."""
    intents = []
    for i in range(n):
        (storage_root / f"{prefix}{i}.docx").write_bytes(b"")
        opened = await open_session(path=f"{prefix}{i}.docx")
        begun = await wopi_changes.begin(ctx, caller(opened), WriteRequest(
            operation=WopiOperation.PUT_FILE, staged=Staged(size=3, sha256="0" * 64)))
        intents.append(begun.intent_id)
    return intents


async def _state(ctx: ServiceContext, intent_id: str) -> str:
    async with ctx.sessions() as db:
        row = await db.get(WriteIntent, intent_id)
    return row.state if row else "gone"


async def test_delete_tenant_with_force_leaves_no_write_intent_pending_forever(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, storage_root: Path,
) -> None:
    [intent] = await _pending_writes(ctx, open_session, storage_root, 1, "busy")

    await tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True)
    clock.advance(seconds=3600)
    await write_intents.sweep(ctx)
    clock.advance(seconds=8 * 24 * 3600)  # past RESOLVED_RETENTION_MS too
    await write_intents.sweep(ctx)

    assert await _state(ctx, intent) != write_intents.PENDING, "the deleted tenant's write stays pending forever"


async def test_delete_storage_with_force_leaves_no_write_intent_pending_forever(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, storage_root: Path,
) -> None:
    [intent] = await _pending_writes(ctx, open_session, storage_root, 1, "busy")

    await storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True)
    clock.advance(seconds=3600)
    await write_intents.sweep(ctx)

    assert await _state(ctx, intent) != write_intents.PENDING, "the deleted storage's write stays pending forever"


async def test_orphaned_intents_do_not_starve_the_sweep_of_a_live_tenants_crashed_write(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, storage_root: Path,
    tmp_path: Path,
) -> None:
    """SWEEP_BATCH (100) orphans left by DeleteTenant/DeleteStorage --force fill every sweep's batch:
    a live tenant's crashed write (storage lacks it) is never abandoned by the sweep."""
    await _pending_writes(ctx, open_session, storage_root, write_intents.SWEEP_BATCH, "orphan")
    await storages.delete_storage(ctx, admin, tenant_id=TENANT, name=STORAGE, force=True)

    clock.advance(seconds=1)
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "live.docx").write_bytes(b"")
    await storages.create_storage(ctx, admin, tenant_id=TENANT, name="live", protocol="file",
                                  root=str(other_root), options={})
    [live] = await _pending_writes_in(ctx, admin, "live", "live.docx")

    clock.advance(seconds=3600)
    for _ in range(3):
        await write_intents.sweep(ctx)

    assert await _state(ctx, live) == write_intents.ABANDONED, "the sweep never reaches the live crashed write"


async def _pending_writes_in(ctx: ServiceContext, admin: Principal, storage: str, path: str) -> list[str]:
    opened = await sessions.create_session(ctx, admin, tenant_id=TENANT, storage_name=storage, path=path,
                                           user_id="u-2", user_name="U", permission="edit", ttl_seconds=0)
    begun = await wopi_changes.begin(ctx, caller(opened), WriteRequest(
        operation=WopiOperation.PUT_FILE, staged=Staged(size=3, sha256="0" * 64)))
    return [begun.intent_id]


async def test_a_lock_decided_while_delete_tenant_runs_leaves_no_session_event_for_a_new_tenant_of_that_id(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, database_url: str, engine: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The production hot path (the writer thread): a Lock holds the file row, DeleteTenant deletes
    the sessions and events, then waits for the file row; the Lock's "locked" event commits after."""
    import threading

    from control.db import decision_store
    from control.services import events
    from tests.control.helpers import with_writer_thread

    _postgres_only(database_url)
    opened = await open_session(user_id="u-1")
    reached, release = threading.Event(), threading.Event()
    original = decision_store.emit_event

    def paused(*args: object, **kwargs: object) -> None:
        reached.set()
        release.wait(120)
        original(*args, **kwargs)

    monkeypatch.setattr(decision_store, "emit_event", paused)
    async for writer_ctx in with_writer_thread(ctx, database_url, engine):
        lock = asyncio.create_task(wopi_access.authorize(writer_ctx, caller(opened), operation="Lock", lock_id="L1"))
        assert await asyncio.to_thread(reached.wait, 120)
        delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
        await _until_waiting_or_done(ctx, delete)  # DeleteTenant waits for the Lock's file row
        release.set()
        await asyncio.wait_for(asyncio.gather(lock, delete, return_exceptions=True), 120)
        assert delete.done() and delete.exception() is None, delete.exception()
        monkeypatch.undo()

    await tenants.create_tenant(ctx, admin, tenant_id=TENANT, name="Another Acme")
    async with ctx.sessions() as db:
        inherited = await events.after(db, tenant_id=TENANT, event_id=0)
    assert not inherited, (f"the new tenant {TENANT!r} reads the deleted tenant's session events "
                           f"(WatchSessionEvents from cursor 0): {[(e.type, e.session_id, e.user_id) for e in inherited]}")


async def test_create_session_racing_delete_tenant_leaves_no_session_or_file_for_a_new_tenant_of_that_id(
    ctx: ServiceContext, admin: Principal, docs: Storage, database_url: str, storage_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from control.services import file_identity

    _postgres_only(database_url)
    (storage_root / "doc.docx").write_bytes(b"x")
    gate = Gate(monkeypatch, file_identity, "file_identity", "create-session")  # checks done, rows not yet added
    create = asyncio.create_task(sessions.create_session(
        ctx, admin, tenant_id=TENANT, storage_name=STORAGE, path="doc.docx", user_id="u-1", user_name="U",
        permission="edit", ttl_seconds=0), name="create-session")
    await asyncio.wait_for(gate.reached.wait(), 60)
    delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
    await _until_waiting_or_done(ctx, delete)
    gate.release.set()
    [outcome] = await asyncio.wait_for(asyncio.gather(create, return_exceptions=True), 60)
    await asyncio.wait_for(delete, 60)
    monkeypatch.undo()
    # Either created before the deletion (and deleted with it) or refused cleanly, never an internal error.
    assert not isinstance(outcome, BaseException) or isinstance(outcome, TenantNotFound), repr(outcome)

    await tenants.create_tenant(ctx, admin, tenant_id=TENANT, name="Another Acme")
    async with ctx.sessions() as db:
        left = (await db.execute(text("SELECT (SELECT count(*) FROM sessions WHERE tenant_id = :t), "
                                      "(SELECT count(*) FROM files WHERE tenant_id = :t)"), {"t": TENANT})).one()
    assert tuple(left) == (0, 0), f"sessions and files of the deleted tenant survive: {tuple(left)}"
