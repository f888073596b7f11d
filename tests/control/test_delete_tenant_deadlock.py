"""DeleteTenant (tenant FOR UPDATE ... then DELETE api_keys) against CreateSession by one of the
tenant's own keys (key FOR SHARE in _require_key_live, then tenant FOR KEY SHARE in hold_tenant):
the two lock orders are opposite, so PostgreSQL picks a deadlock victim."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from control.db import stores
from control.db.models import Storage
from control.services import keys, sessions, tenants
from control.services.context import Principal, ServiceContext
from shared.errors import TenantNotFound
from tests.control.helpers import STORAGE, TENANT
from tests.control.test_deleted_records import Gate, _postgres_only, _until_waiting_or_done


async def test_create_session_by_tenant_key_racing_delete_tenant_neither_fails_with_a_deadlock(
    ctx: ServiceContext, admin: Principal, docs: Storage, database_url: str, storage_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _postgres_only(database_url)
    (storage_root / "doc.docx").write_bytes(b"x")
    row, _secret = await keys.create_key(ctx, admin, tenant_id=TENANT, description="acme integration")
    tenant_key = Principal(key_id=row.id, role="tenant", tenant_id=TENANT)

    # CreateSession has share-locked its key (_require_key_live) and is about to hold the tenant.
    gate = Gate(monkeypatch, stores, "hold_tenant", "create-session")
    create = asyncio.create_task(sessions.create_session(
        ctx, tenant_key, tenant_id=TENANT, storage_name=STORAGE, path="doc.docx", user_id="u-1", user_name="U",
        permission="edit", ttl_seconds=0), name="create-session")
    await asyncio.wait_for(gate.reached.wait(), 60)
    delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
    await _until_waiting_or_done(ctx, delete)  # holds the tenant row, waits for the key's row
    gate.release.set()
    created, deleted = await asyncio.wait_for(asyncio.gather(create, delete, return_exceptions=True), 60)
    monkeypatch.undo()

    # Sound outcomes: the session is created then deleted with the tenant, or refused as TenantNotFound;
    # the deletion succeeds either way.
    assert not isinstance(deleted, BaseException), f"DeleteTenant failed: {deleted!r}"
    assert not isinstance(created, BaseException) or isinstance(created, TenantNotFound), \
        f"CreateSession failed: {created!r}"


async def test_put_relative_file_commit_racing_delete_tenant_neither_fails_with_a_deadlock(
    ctx: ServiceContext, admin: Principal, open_session, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PutRelativeFile's commit holds its intent FOR UPDATE, then inserts the new file's session (the
    foreign key share-locks the tenant row); DeleteTenant holds the tenant FOR UPDATE, then waits for
    the tenant's intents (lock_records_of)."""
    from control.services import wopi_changes
    from shared.errors import WopiProxyError
    from shared.wopi_operation import WopiOperation
    from tests.control.helpers import caller

    _postgres_only(database_url)
    source = await open_session(path="folder/sheet.xlsx")
    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_RELATIVE_FILE,
                                        staged=wopi_changes.Staged(size=5), target_path="folder/copy.xlsx")
    begun = await wopi_changes.begin(ctx, caller(source), request)

    gate = Gate(monkeypatch, wopi_changes, "_hold_to_mint", "commit")  # its intent is locked by now
    commit = asyncio.create_task(wopi_changes.commit(ctx, caller(source), intent_id=begun.intent_id), name="commit")
    await asyncio.wait_for(gate.reached.wait(), 60)
    delete = asyncio.create_task(tenants.delete_tenant(ctx, admin, tenant_id=TENANT, force=True))
    await _until_waiting_or_done(ctx, delete)  # holds the tenant row, waits for the intent's row
    gate.release.set()
    committed, deleted = await asyncio.wait_for(asyncio.gather(commit, delete, return_exceptions=True), 60)
    monkeypatch.undo()

    assert not isinstance(deleted, BaseException), f"DeleteTenant failed: {deleted!r}"
    assert not isinstance(committed, BaseException) or isinstance(committed, WopiProxyError), \
        f"the commit failed: {committed!r}"
