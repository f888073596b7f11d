"""EdgeService's first question (control.services.wopi_access): may this token do this operation
on this file?"""

from __future__ import annotations

from collections.abc import AsyncIterator

import hashlib

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from control.db.models import Storage, Tenant
from control.services import sessions, storages, wopi_access
from control.services.context import Principal, ServiceContext
from shared.errors import AccessTokenInvalid, FileNotFound, InvalidArgument, TenantDisabled
from shared.wopi_operation import WopiOperation
from tests.control.helpers import with_writer_thread, TENANT, FakeClock, OpenSession, caller, disable_tenant, outcomes

READ_OPERATIONS = ["CheckFileInfo", "GetFile", "GetLock"]
WRITE_OPERATIONS = sorted(op.value for op in WopiOperation if op.writes)


@pytest.fixture(params=["transaction", "writer-thread"])
async def ctx(request: pytest.FixtureRequest, ctx: ServiceContext, database_url: str, engine: AsyncEngine
              ) -> AsyncIterator[ServiceContext]:
    """Each test twice: through ServiceContext.transaction, and on the writer thread (control.db.writer)."""
    if request.param == "transaction":
        yield ctx
        return
    async for with_writer in with_writer_thread(ctx, database_url, engine):
        yield with_writer



async def test_a_valid_token_is_granted_its_session_file_and_storage(
    ctx: ServiceContext, open_session: OpenSession, docs: Storage
) -> None:
    opened = await open_session(path="folder/sheet.xlsx")

    grant = await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")

    assert grant.session.id == opened.session.row.id
    assert (grant.file.id, grant.file.path) == (opened.session.row.file_id, "folder/sheet.xlsx")
    assert (grant.storage.id, grant.storage.root) == (docs.id, docs.root)
    assert grant.can_write


async def test_a_view_session_may_read(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(permission="view")

    results = await outcomes(READ_OPERATIONS,
                             lambda op: wopi_access.authorize(ctx, caller(opened), operation=op))

    assert results == dict.fromkeys(READ_OPERATIONS, "ok")


async def test_a_view_session_may_not_write(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(permission="view")

    results = await outcomes(WRITE_OPERATIONS,
                             lambda op: wopi_access.authorize(ctx, caller(opened), operation=op))

    assert results == dict.fromkeys(WRITE_OPERATIONS, "OperationNotPermitted")


async def test_an_edit_session_may_write(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(permission="edit")
    # The lock operations and PutUserInfo need arguments of their own; their rules are not this test's.
    writes = ["PutFile", "PutRelativeFile", "RenameFile", "DeleteFile"]

    results = await outcomes(writes, lambda op: wopi_access.authorize(ctx, caller(opened), operation=op))

    assert results == dict.fromkeys(writes, "ok")


async def test_the_grant_tells_whether_the_session_may_write(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    view = await open_session(permission="view")
    edit = await open_session(permission="edit")

    assert not (await wopi_access.authorize(ctx, caller(view), operation="GetFile")).can_write
    assert (await wopi_access.authorize(ctx, caller(edit), operation="GetFile")).can_write


async def test_a_token_is_not_valid_for_another_file(ctx: ServiceContext, open_session: OpenSession) -> None:
    mine = await open_session(path="doc.docx")
    other = await open_session(path="folder/sheet.xlsx")

    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(mine, file_id=other.session.row.file_id), operation="GetFile")


async def test_a_valid_token_with_a_file_id_that_names_no_file_is_file_not_found(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()

    with pytest.raises(FileNotFound):
        await wopi_access.authorize(ctx, caller(opened, file_id="no-such-file"), operation="GetFile")


async def test_a_token_of_another_tenant_finds_this_tenants_file_id_as_missing(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant, docs: Storage
) -> None:
    """Ids leak (a WOPISrc in a log): a token must not tell that an id is another tenant's file."""
    await storages.create_storage(ctx, admin, tenant_id=globex.id, name="docs", protocol="file",
                                  root=docs.root, options={})
    mine = await open_session()
    theirs = await open_session(tenant_id=globex.id)

    results = await outcomes(["PutUserInfo", "GetFile", "Lock"], lambda operation: wopi_access.authorize(
        ctx, caller(theirs, file_id=mine.session.row.file_id), operation=operation, lock_id="L"))

    assert results == dict.fromkeys(["PutUserInfo", "GetFile", "Lock"], "FileNotFound")


async def test_an_unknown_token_is_access_token_invalid(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    unknown = ["", "not-a-token", "x" * 43, opened.access_token + "x", opened.access_token[:-1]]

    results = await outcomes(unknown, lambda token: wopi_access.authorize(
        ctx, caller(opened, access_token=token), operation="CheckFileInfo"))

    assert results == dict.fromkeys(unknown, "AccessTokenInvalid")


async def test_the_hash_of_a_token_is_not_a_token(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()
    token_hash = hashlib.sha256(opened.access_token.encode()).hexdigest()

    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened, access_token=token_hash), operation="CheckFileInfo")


async def test_closing_a_session_revokes_its_token_at_once(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()
    await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")

    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")


async def test_closing_one_session_leaves_other_sessions_on_the_file_working(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    closed = await open_session(user_id="u-1")
    kept = await open_session(user_id="u-2")

    await sessions.close_session(ctx, admin, session_id=closed.session.row.id)

    grant = await wopi_access.authorize(ctx, caller(kept), operation="GetFile")
    assert grant.session.id == kept.session.row.id


async def test_a_token_works_until_the_last_millisecond_of_its_ttl(
    ctx: ServiceContext, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session(ttl_seconds=60)

    clock.advance(seconds=60, ms=-1)
    await wopi_access.authorize(ctx, caller(opened), operation="GetFile")
    clock.advance(ms=1)
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened), operation="GetFile")


async def test_a_disabled_tenants_tokens_are_tenant_disabled(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()

    await disable_tenant(ctx, TENANT)

    with pytest.raises(TenantDisabled):
        await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")


@pytest.mark.parametrize("lock_id", ["evil\x7flock", "tab\there", "caf\u00e9", "x" * 1025])
async def test_the_control_plane_refuses_a_lock_id_the_edge_would_refuse(
        ctx: ServiceContext, open_session: OpenSession, lock_id: str) -> None:
    """shared.lock_ids: one rule for both processes; DEL (echoed in X-WOPI-Lock) included."""
    opened = await open_session()

    with pytest.raises(InvalidArgument):
        await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id=lock_id)
