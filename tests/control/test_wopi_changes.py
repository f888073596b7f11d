"""The edge's writes in the write protocol (control.services.wopi_changes): BeginWrite then
CommitWrite advances the file's version, once per write, whoever writes concurrently."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from control.services import sessions, wopi_changes
from control.services.context import Principal, ServiceContext
from control.services.sessions import OpenedSession
from shared.errors import (
    AccessTokenInvalid, FileAlreadyExists, FileMoved, OperationNotPermitted, TenantDisabled, WriteInProgress,
    WriteIntentNotFound,
)
from shared.wopi_operation import WopiOperation
from tests.control.helpers import with_writer_thread, START_MS, TENANT, FakeClock, OpenSession, caller, disable_tenant, file_row, write


@pytest.fixture(params=["transaction", "writer-thread"])
async def ctx(request: pytest.FixtureRequest, ctx: ServiceContext, database_url: str, engine: AsyncEngine
              ) -> AsyncIterator[ServiceContext]:
    """Each test twice: through ServiceContext.transaction, and on the writer thread (control.db.writer)."""
    if request.param == "transaction":
        yield ctx
        return
    async for with_writer in with_writer_thread(ctx, database_url, engine):
        yield with_writer



async def record_write(ctx: ServiceContext, opened: OpenedSession, *, size: int = 1, sha256: str = "",
                       file_id: str | None = None) -> int:
    """A write of an empty file made without a WOPI lock, keeping no previous version."""
    who = caller(opened, file_id=file_id) if file_id else caller(opened)
    return await write(ctx, who, size=size, sha256=sha256)


async def test_record_write_advances_the_version_and_describes_the_new_content(
    ctx: ServiceContext, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session()
    clock.advance(seconds=2)

    version = await record_write(ctx, opened, size=1234, sha256="ab" * 32)

    row = await file_row(ctx, opened.session.row.file_id)
    assert version == 2
    assert (row.version, row.size, row.sha256) == (2, 1234, "ab" * 32)
    assert (row.create_time, row.update_time) == (START_MS, START_MS + 2000)


async def test_each_write_advances_the_version_by_one(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()

    versions = [await record_write(ctx, opened, size=i) for i in range(3)]

    assert versions == [2, 3, 4]


async def test_sessions_on_one_file_share_its_version(ctx: ServiceContext, open_session: OpenSession) -> None:
    first = await open_session(user_id="u-1")
    second = await open_session(user_id="u-2")

    assert await record_write(ctx, first) == 2
    assert await record_write(ctx, second) == 3
    assert (await file_row(ctx, first.session.row.file_id)).version == 3


async def test_concurrent_writes_each_get_their_own_version(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()

    versions = await asyncio.gather(*(record_write(ctx, opened, size=i) for i in range(20)))

    assert sorted(versions) == list(range(2, 22))
    assert (await file_row(ctx, opened.session.row.file_id)).version == 21


async def test_concurrent_writes_through_different_sessions_each_get_their_own_version(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = [await open_session(user_id=f"u-{i}") for i in range(5)]

    versions = await asyncio.gather(*(record_write(ctx, o) for o in opened for _ in range(4)))

    assert sorted(versions) == list(range(2, 22))


async def test_a_view_session_cannot_record_a_write(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(permission="view")

    with pytest.raises(OperationNotPermitted):
        await record_write(ctx, opened)
    assert (await file_row(ctx, opened.session.row.file_id)).version == 1


async def test_a_closed_session_cannot_record_a_write(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    opened = await open_session()
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    with pytest.raises(AccessTokenInvalid):
        await record_write(ctx, opened)
    assert (await file_row(ctx, opened.session.row.file_id)).version == 1


async def test_an_expired_session_cannot_record_a_write(
    ctx: ServiceContext, clock: FakeClock, open_session: OpenSession
) -> None:
    opened = await open_session(ttl_seconds=60)
    clock.advance(seconds=60)

    with pytest.raises(AccessTokenInvalid):
        await record_write(ctx, opened)
    assert (await file_row(ctx, opened.session.row.file_id)).version == 1


async def test_a_write_with_a_token_of_another_file_is_refused(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    mine = await open_session(path="doc.docx")
    other = await open_session(path="folder/sheet.xlsx")

    with pytest.raises(AccessTokenInvalid):
        await record_write(ctx, mine, file_id=other.session.row.file_id)
    assert (await file_row(ctx, other.session.row.file_id)).version == 1


async def test_a_commit_with_the_token_of_another_session_is_refused_and_saves_nothing(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    mine = await open_session(user_id="u-1")
    theirs = await open_session(user_id="u-2")  # same file, another session
    begun = await wopi_changes.begin(ctx, caller(mine), _put(size=5))

    with pytest.raises(AccessTokenInvalid):
        await wopi_changes.commit(ctx, caller(theirs), intent_id=begun.intent_id)
    assert (await file_row(ctx, mine.session.row.file_id)).version == 1
    assert await wopi_changes.commit(ctx, caller(mine), intent_id=begun.intent_id) is not None
    assert (await file_row(ctx, mine.session.row.file_id)).version == 2


async def test_a_commit_of_an_unknown_intent_is_refused(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session()

    with pytest.raises(WriteIntentNotFound):
        await wopi_changes.commit(ctx, caller(opened), intent_id="wi_no-such-intent")
    assert (await file_row(ctx, opened.session.row.file_id)).version == 1


def _put(*, size: int, path: str = "") -> wopi_changes.WriteRequest:
    return wopi_changes.WriteRequest(operation=WopiOperation.PUT_FILE, staged=wopi_changes.Staged(size=size),
                                     target_path=path)


async def test_a_put_file_staged_for_a_path_the_file_has_left_is_refused_with_where_it_is(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """A RenameFile while the body arrived: the edge staged and looked at the old path."""
    opened = await open_session(path="doc.docx")

    with pytest.raises(FileMoved) as moved:
        await wopi_changes.begin(ctx, caller(opened), _put(size=5, path="old.docx"))
    assert moved.value.path == "doc.docx"
    row = await file_row(ctx, opened.session.row.file_id)
    assert (row.version, row.pending_intent_id) == (1, None)


async def test_a_put_file_staged_for_the_files_path_is_begun(ctx: ServiceContext, open_session: OpenSession) -> None:
    opened = await open_session(path="doc.docx")

    begun = await wopi_changes.begin(ctx, caller(opened), _put(size=5, path="doc.docx"))
    assert await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id) is not None


async def test_a_disabled_tenant_cannot_record_a_write(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    await disable_tenant(ctx, TENANT)

    with pytest.raises(TenantDisabled):
        await record_write(ctx, opened)
    assert (await file_row(ctx, opened.session.row.file_id)).version == 1


async def test_save_as_onto_a_file_the_database_knows_is_refused_without_overwrite_whatever_the_edge_saw(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """Another save created doc.docx while this body arrived: the edge looked before and saw
    nothing, but the control plane's compare-and-set knows the file."""
    await open_session(path="doc.docx")
    source = await open_session(path="folder/sheet.xlsx")
    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_RELATIVE_FILE,
                                        staged=wopi_changes.Staged(size=5), target_path="doc.docx")

    with pytest.raises(FileAlreadyExists):
        await wopi_changes.begin(ctx, caller(source), request)


async def test_a_rename_onto_a_file_whose_save_is_on_its_way_is_refused_as_busy(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """The other file's bytes are between BeginWrite and publish: replacing it now would lose them
    (or leave two identities for one path once that save is confirmed)."""
    holder = await open_session(path="doc.docx")
    mover = await open_session(path="folder/sheet.xlsx")
    await wopi_changes.begin(ctx, caller(holder), _put(size=5))
    rename = wopi_changes.WriteRequest(operation=WopiOperation.RENAME_FILE, target_path="doc.docx")

    with pytest.raises(WriteInProgress):
        await wopi_changes.begin(ctx, caller(mover), rename)
    assert (await file_row(ctx, mover.session.row.file_id)).path == "folder/sheet.xlsx"


async def test_a_save_as_committed_after_its_session_closed_keeps_the_file_and_mints_no_token(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    """The body was arriving (the edge publishing it) when the session was closed: the new file is
    the user's work and is kept, but a closed session must not hand out a token that outlives it."""
    source = await open_session(path="folder/sheet.xlsx")
    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_RELATIVE_FILE,
                                        staged=wopi_changes.Staged(size=5), target_path="folder/copy.xlsx")
    begun = await wopi_changes.begin(ctx, caller(source), request)
    await sessions.close_session(ctx, admin, session_id=source.session.row.id)

    committed = await wopi_changes.commit(ctx, caller(source), intent_id=begun.intent_id)

    assert committed.access_token == "" and committed.wopi_src == ""
    created = await file_row(ctx, begun.file_id)
    assert (created.path, created.version, created.pending_intent_id) == ("folder/copy.xlsx", committed.version, None)


async def test_a_save_committed_after_its_session_closed_is_kept(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    """Granted while the session was open, published meanwhile: the save is recorded, not lost."""
    opened = await open_session()
    begun = await wopi_changes.begin(ctx, caller(opened), _put(size=5))
    await sessions.close_session(ctx, admin, session_id=opened.session.row.id)

    committed = await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)

    assert committed.version == 2
    assert (await file_row(ctx, opened.session.row.file_id)).version == 2


async def _waits_on_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as probe:
        waiting = await probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
        return bool(waiting.scalar())


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_a_save_as_committing_while_its_session_is_being_closed_mints_no_token(
    ctx: ServiceContext, engine: AsyncEngine, open_session: OpenSession
) -> None:
    """A CloseSession (or a RevokeApiKey with close_sessions) not yet committed when PutRelativeFile's
    commit reads its session: the commit waits for it and sees the session closed, rather than
    minting a token from a session that is, by the time it commits, closed."""
    source = await open_session(path="folder/sheet.xlsx")
    request = wopi_changes.WriteRequest(operation=WopiOperation.PUT_RELATIVE_FILE,
                                        staged=wopi_changes.Staged(size=5), target_path="folder/copy.xlsx")
    begun = await wopi_changes.begin(ctx, caller(source), request)
    async with engine.connect() as closer:
        await closer.execute(text("UPDATE sessions SET close_time = :now WHERE id = :id"),
                             {"now": START_MS, "id": source.session.row.id})
        commit = asyncio.create_task(wopi_changes.commit(ctx, caller(source), intent_id=begun.intent_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not commit.done() and not await _waits_on_a_lock(engine) and loop.time() < deadline:
            await asyncio.sleep(0.01)  # polling: the commit either waits on the session or has finished
        await closer.commit()
    committed = await asyncio.wait_for(commit, 30)

    assert committed.access_token == "" and committed.wopi_src == ""
    assert (await file_row(ctx, begun.file_id)).path == "folder/copy.xlsx"  # the new file is kept
