"""The WOPI hot path as the control plane runs it (control.db.grant_reads, control.db.writer): the
grant's rows in one read, the audit record group-committed by one writer thread, lock decisions as
one call each on that thread, batched. The trail must stay exactly as
strong: each record committed before the reply, one verifiable chain per tenant, nothing recorded
(or changed) for a caller that went away, and each lock decision its own compare-and-set."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from control import secrets as secret_boxes
from control.db.engine import create_read_engine, session_factory
from control.db import audit_sync, decision_store, driver_calls, grant_reads
from control.db.models import AuditChainHead, AuditEvent, FileVersion, SessionEvent, Storage, Tenant
from control.db.writer import DecisionWriter, Tx
from control.services import audit, audit_queries, deadlines, storages, wopi_access
from control.services.access_tokens import hash_token
from control.services.context import Principal, ServiceContext
from control.services.keys import Authenticator
from control.services.replicas import ReplicaWatch
from control.services.storage_policy import StoragePolicy
from control.services.webhooks import WebhookDispatcher
from shared.errors import ApiKeyInvalid, AccessTokenInvalid, DeadlineExceeded, FileNotFound, LockConflict, WopiProxyError
from tests.control.helpers import OTHER_TENANT, TENANT, FakeClock, OpenSession, caller, file_row, terminate_backend


@pytest.fixture
async def ctx(engine: AsyncEngine, clock: FakeClock, tmp_path: Path, database_url: str
              ) -> AsyncIterator[ServiceContext]:
    """The services' context as start_control makes it: the decision writer and (SQLite) reader pool."""
    box = secret_boxes._box(engine.sync_engine.dialect)  # the test engine's own key, for the others too
    read_engine = create_read_engine(database_url)
    if read_engine is not None:
        secret_boxes.bind_engine(read_engine, box)
    base = ServiceContext(sessions=session_factory(engine), wopi_base_url="http://wopi.test", clock=clock,
                          storage_policy=StoragePolicy(tenant_file_base=tmp_path / "tenants"),
                          read_sessions=session_factory(read_engine) if read_engine is not None else None)
    decisions = DecisionWriter(database_url, on_commit=base.events.notify)
    secret_boxes.bind_engine(decisions.engine, box)
    yield dataclasses.replace(base, decisions=decisions)
    await asyncio.to_thread(decisions.close)
    if read_engine is not None:
        await read_engine.dispose()


async def records(ctx: ServiceContext, tenant_id: str | None = TENANT) -> list[AuditEvent]:
    """Read afresh, on another session: what is committed."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id if tenant_id is not None
                                     else col(AuditEvent.tenant_id).is_(None)).order_by(col(AuditEvent.id))
    async with ctx.sessions() as db:
        return list((await db.exec(query)).all())


async def test_a_read_returns_only_after_its_record_is_committed(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    opened = await open_session()
    before = len(await records(ctx))

    grant = await wopi_access.authorize(ctx, caller(opened, correlation_id="c-1"), operation="CheckFileInfo")

    last = (await records(ctx))[-1]
    assert len(await records(ctx)) == before + 1
    assert (last.operation, last.outcome, last.correlation_id, last.session_id) == (
        "CheckFileInfo", "ok", "c-1", opened.session.row.id)
    assert grant.session.id == opened.session.row.id and grant.storage.root  # rows usable after the read


async def test_concurrent_reads_and_locks_of_two_tenants_keep_verifiable_chains(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant, docs: Storage
) -> None:
    """Batched reads interleaved with lock operations (which append in their own transaction)."""
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name="docs", protocol="file",
                                  root=docs.root, options={})
    acme, globex_session = await open_session(), await open_session(tenant_id=OTHER_TENANT)
    before = {chain: len(await records(ctx, chain)) for chain in (TENANT, OTHER_TENANT, None)}
    calls = (
        [wopi_access.authorize(ctx, caller(acme), operation="GetFile") for _ in range(40)]
        + [wopi_access.authorize(ctx, caller(acme), operation="Lock", lock_id="L1") for _ in range(5)]
        + [wopi_access.authorize(ctx, caller(globex_session), operation="CheckFileInfo") for _ in range(40)]
        + [wopi_access.authorize(ctx, caller(acme, access_token=f"bad-{i}"), operation="GetFile") for i in range(5)]
    )

    results = await asyncio.gather(*calls, return_exceptions=True)

    assert [r for r in results if isinstance(r, BaseException) and not isinstance(r, WopiProxyError)] == []
    after = {chain: len(await records(ctx, chain)) for chain in (TENANT, OTHER_TENANT, None)}
    assert {c: after[c] - before[c] for c in after} == {TENANT: 45, OTHER_TENANT: 40, None: 5}
    report = await audit_queries.verify_chains(ctx, admin, tenant_id="")
    assert (report.ok, report.reason) == (True, "")
    for chain in (TENANT, OTHER_TENANT):
        chained = await records(ctx, chain)
        assert [r.previous_hash for r in chained[1:]] == [r.hash for r in chained[:-1]], chain


async def test_a_batch_of_one_tenants_reads_is_chained_in_the_order_its_records_were_appended(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    """Many records of one chain in one batch, inserted together: their ids must follow the order
    they were hashed in, and the head must name the last."""
    opened = await open_session()
    before = len(await records(ctx))

    await asyncio.gather(*[wopi_access.authorize(ctx, caller(opened, correlation_id=f"c-{i}"), operation="GetFile")
                           for i in range(60)])

    chained = await records(ctx)
    assert len(chained) == before + 60
    assert [r.previous_hash for r in chained[1:]] == [r.hash for r in chained[:-1]]
    report = await audit_queries.verify_chains(ctx, admin, tenant_id=TENANT)
    assert (report.ok, report.reason) == (True, "")
    async with ctx.sessions() as db:
        head = await db.get(AuditChainHead, TENANT)
    assert head is not None and (head.last_event_id, head.last_hash) == (chained[-1].id, chained[-1].hash)


async def test_a_caller_that_went_away_gets_no_record(ctx: ServiceContext, open_session: OpenSession) -> None:
    """Attack: fire requests and hang up at once, hoping for grants on the record that nobody served."""
    opened = await open_session()
    before = len(await records(ctx))

    with deadlines.budget(None) as budget, pytest.raises(DeadlineExceeded):
        budget.abandoned = True
        await wopi_access.authorize(ctx, caller(opened), operation="GetFile")

    assert len(await records(ctx)) == before


async def test_a_failed_batch_fails_its_requests_and_the_writer_goes_on(
    ctx: ServiceContext, open_session: OpenSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await open_session()
    before = len(await records(ctx))
    real_append = audit_sync.append

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit_sync, "append", broken)
    results = await asyncio.gather(*(wopi_access.authorize(ctx, caller(opened), operation="GetFile")
                                     for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results), results
    assert len(await records(ctx)) == before  # no grant was answered, none recorded

    monkeypatch.setattr(audit_sync, "append", real_append)
    await wopi_access.authorize(ctx, caller(opened), operation="GetFile")
    assert len(await records(ctx)) == before + 1


async def test_the_read_path_refuses_what_the_transaction_path_refuses(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """Attack: a made-up token, and a real token on another file (id known or not)."""
    opened, other = await open_session(), await open_session(path="other.docx", create=True)
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened, access_token="made-up"), operation="CheckFileInfo")
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened, file_id=other.session.row.file_id), operation="GetFile")
    with pytest.raises(FileNotFound):
        await wopi_access.authorize(ctx, caller(opened, file_id="A" * 22), operation="GetFile")


async def test_the_grant_carries_user_info_and_decrypted_storage_options(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, docs: Storage
) -> None:
    opened = await open_session()
    await wopi_access.authorize(ctx, caller(opened), operation="PutUserInfo", user_info="prefs")

    grant = await wopi_access.authorize(ctx, caller(opened), operation="CheckFileInfo")
    served = await wopi_access.authorize(ctx, caller(opened), operation="GetFile")

    assert grant.user_info == "prefs" and served.user_info == ""
    assert grant.storage.root == docs.root and isinstance(grant.storage_options, dict)


async def lock_events(ctx: ServiceContext, session_id: str) -> list[str]:
    query = (select(SessionEvent.type).where(SessionEvent.session_id == session_id,
                                             col(SessionEvent.type).in_(["locked", "unlocked"]))
             .order_by(col(SessionEvent.id)))
    async with ctx.sessions() as db:
        return list((await db.exec(query)).all())


async def test_concurrent_locks_of_one_file_have_exactly_one_winner(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    """Attack: 30 editors race to lock one file at once (the writer batches them in one
    transaction): each decision is still its own compare-and-set, the losers change nothing."""
    opened = await open_session()
    before = len(await records(ctx))

    results = await asyncio.gather(*(wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id=f"L{i}")
                                     for i in range(30)), return_exceptions=True)

    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1 and all(isinstance(r, LockConflict) for r in results if r not in winners), results
    assert (await file_row(ctx, opened.session.row.file_id)).lock_id == winners[0].lock_id
    trail = (await records(ctx))[before:]
    assert sorted(r.outcome for r in trail) == ["conflict"] * 29 + ["ok"]
    assert await lock_events(ctx, opened.session.row.id) == ["locked"]
    report = await audit_queries.verify_chains(ctx, admin, tenant_id="")
    assert (report.ok, report.reason) == (True, "")


async def test_lock_unlock_rounds_on_many_files_keep_state_events_and_chain(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession
) -> None:
    """Group-committed decisions of different files: every one applied, recorded once, in order."""
    opened = [await open_session(path=f"f{i}.docx", create=True) for i in range(8)]
    before = len(await records(ctx))

    async def rounds(n: int) -> None:
        for _ in range(3):
            await wopi_access.authorize(ctx, caller(opened[n]), operation="Lock", lock_id=f"L{n}")
            await wopi_access.authorize(ctx, caller(opened[n]), operation="RefreshLock", lock_id=f"L{n}")
            await wopi_access.authorize(ctx, caller(opened[n]), operation="Unlock", lock_id=f"L{n}")

    await asyncio.gather(*(rounds(n) for n in range(8)))

    assert len(await records(ctx)) == before + 8 * 9
    for session in opened:
        assert (await file_row(ctx, session.session.row.file_id)).lock_id is None
        assert await lock_events(ctx, session.session.row.id) == ["locked", "unlocked"] * 3
    report = await audit_queries.verify_chains(ctx, admin, tenant_id="")
    assert (report.ok, report.reason) == (True, "")


async def test_a_lock_for_a_caller_that_went_away_changes_nothing(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """Attack: send LOCK and hang up at once: no lock may be taken (and none recorded) that nobody answered."""
    opened = await open_session()
    before = len(await records(ctx))

    with deadlines.budget(None) as budget, pytest.raises(DeadlineExceeded):
        budget.abandoned = True
        await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")
    with deadlines.budget(0.01), pytest.raises(DeadlineExceeded):  # inside the commit margin
        await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L2")

    assert (await file_row(ctx, opened.session.row.file_id)).lock_id is None
    assert len(await records(ctx)) == before
    assert await lock_events(ctx, opened.session.row.id) == []


async def test_a_refused_lock_in_a_batch_rolls_back_only_itself(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """A decision that fails after writing (its audit append breaks) is undone to its savepoint;
    the decisions batched with it commit."""
    first, second = await open_session(), await open_session(path="other.docx", create=True)
    real_append = audit_sync.append

    def second_one_breaks(tx: object, records: list[audit.AuditRecord]) -> None:
        if records and records[0].session_id == second.session.row.id:
            raise RuntimeError("disk full")
        real_append(tx, records)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_sync, "append", second_one_breaks)
        results = await asyncio.gather(
            wopi_access.authorize(ctx, caller(first), operation="Lock", lock_id="A"),
            wopi_access.authorize(ctx, caller(second), operation="Lock", lock_id="B"),
            return_exceptions=True)

    assert not isinstance(results[0], BaseException) and isinstance(results[1], RuntimeError), results
    assert (await file_row(ctx, first.session.row.file_id)).lock_id == "A"
    assert (await file_row(ctx, second.session.row.file_id)).lock_id is None  # its UPDATE rolled back
    assert await lock_events(ctx, second.session.row.id) == []


@contextlib.contextmanager
def sqlite_write_lock(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE) until the block ends or
    it commits: what a transaction of the async engine (a lease renewal, a sweep) does."""
    blocker = sqlite3.connect(database_url.partition(":///")[2], isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # its database-wide write lock


@SQLITE_ONLY
async def test_a_lock_waits_while_another_connection_holds_the_write_lock_then_commits(
    ctx: ServiceContext, open_session: OpenSession, database_url: str
) -> None:
    """The writer retries BEGIN IMMEDIATE itself (every millisecond, not SQLite's sleeping
    backoff): a decision that finds the database locked waits for it and then commits."""
    opened = await open_session()
    with sqlite_write_lock(database_url) as blocker:
        decided = asyncio.create_task(wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1"))
        await asyncio.sleep(0.3)
        assert not decided.done(), decided  # waiting for the lock, not failed
        blocker.execute("COMMIT")
        grant = await asyncio.wait_for(decided, 10)

    assert grant.lock_id == "L1"
    assert (await file_row(ctx, opened.session.row.file_id)).lock_id == "L1"


@SQLITE_ONLY
async def test_background_reads_go_on_while_another_connection_holds_the_write_lock(
    ctx: ServiceContext, database_url: str
) -> None:
    """The replica watch (4 times a second), webhook rounds (after each commit with events) and
    the authenticator's cache misses only read: on SQLite they use reader connections, so they
    neither wait for the write lock nor hold it while the writer thread waits."""
    authenticator = Authenticator(ctx)
    with sqlite_write_lock(database_url):
        await asyncio.wait_for(ReplicaWatch(ctx, authenticator).poll(), 5)
        async with httpx.AsyncClient() as client:
            await asyncio.wait_for(WebhookDispatcher(ctx, client).deliver_due(), 5)
        with pytest.raises(ApiKeyInvalid):
            await asyncio.wait_for(authenticator.authenticate("Bearer not-a-key"), 5)


async def test_a_version_kept_again_replaces_its_row(ctx: ServiceContext, open_session: OpenSession) -> None:
    """A save whose version an earlier, abandoned try already kept: one row, the latest bytes' size."""
    opened = await open_session()
    file = await file_row(ctx, opened.session.row.file_id)
    assert ctx.decisions is not None

    for size in (10, 20):
        await ctx.decisions.run(lambda tx, size=size: decision_store.keep_version(  # type: ignore[misc]
            tx, file=file, version=1, size=size, reason="save", replaced_by="u-1", retention=5, now=1))

    async with ctx.sessions() as db:
        kept = list((await db.exec(select(FileVersion).where(FileVersion.file_id == file.id))).all())
    assert [(row.version, row.size) for row in kept] == [(1, 20)]


async def test_a_batch_read_of_grants_finds_each_token_and_none_for_an_unknown_one(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    first, second = await open_session(), await open_session(user_id="u-2")
    hashes = [hash_token(first.access_token), hash_token(second.access_token), hash_token("no-such-token")]
    assert ctx.decisions is not None

    found = await ctx.decisions.run(lambda tx: grant_reads.read_grants(tx.conn, hashes))

    assert found[hashes[2]] is None
    assert [(rows.session.id, rows.session.user_id) for rows in (found[hashes[0]], found[hashes[1]]) if rows] == [
        (first.session.row.id, "u-1"), (second.session.row.id, "u-2")]


@pytest.mark.parametrize("for_update", [False, True], ids=["read", "for-update"])
async def test_the_grant_read_through_the_driver_gives_exactly_sqlalchemys_values(
    ctx: ServiceContext, open_session: OpenSession, for_update: bool
) -> None:
    """Booleans (SQLite's 0/1), the decrypted storage options, the outer joins' NULLs: the values
    SQLAlchemy's own execution of the query gives, column for column."""
    opened = await open_session()
    await wopi_access.authorize(ctx, caller(opened), operation="PutUserInfo", user_info="prefs")
    token_hash = hash_token(opened.access_token)
    query = grant_reads.GRANT_QUERY_FOR_UPDATE if for_update else grant_reads.GRANT_QUERY
    assert ctx.decisions is not None

    def both(tx: Tx) -> tuple[Any, Any]:
        sqlalchemys = tx.conn.execute(query, {"token_hash": token_hash}).first()
        return (tuple(sqlalchemys) if sqlalchemys else None,
                driver_calls.driver_statement(tx.conn.dialect, query).rows(tx.conn, {"token_hash": token_hash}))

    sqlalchemys, drivers = await ctx.decisions.run(both)

    assert sqlalchemys is not None and drivers == [sqlalchemys]
    options = [name for names in grant_reads._NAMES for name in names].index("options_json")
    assert isinstance(json.loads(sqlalchemys[options]), dict), "stored encrypted, read decrypted"
    assert any(value is True for value in sqlalchemys), "booleans, not SQLite's integers"


async def test_a_batch_read_of_grants_gives_exactly_sqlalchemys_values(
    ctx: ServiceContext, open_session: OpenSession
) -> None:
    """The batch's one SELECT (to the driver on PostgreSQL, its hashes as one array) reads what
    SQLAlchemy's own execution of it reads, row for row."""
    opened = [await open_session(), await open_session(user_id="u-2")]
    await wopi_access.authorize(ctx, caller(opened[0]), operation="PutUserInfo", user_info="prefs")
    hashes = [hash_token(o.access_token) for o in opened]
    assert ctx.decisions is not None

    def both(tx: Tx) -> tuple[Any, Any]:
        query = grant_reads.GRANTS_QUERY_PG if tx.postgres else grant_reads.GRANTS_QUERY
        sqlalchemys = {row.token_hash: grant_reads.grant_rows(row)
                       for row in tx.conn.execute(query, {"token_hashes": hashes})}
        return sqlalchemys, grant_reads.read_grants(tx.conn, hashes)

    sqlalchemys, batch = await ctx.decisions.run(both)

    assert set(sqlalchemys) == set(hashes) and batch == sqlalchemys


async def test_the_grant_read_through_the_driver_finds_nothing_for_an_unknown_token(ctx: ServiceContext) -> None:
    assert ctx.decisions is not None
    assert await ctx.decisions.run(lambda tx: grant_reads.read_grant(tx.conn, hash_token("no-such-token"))) is None


async def test_a_grant_read_that_loses_its_connection_is_raised_invalidated_and_the_next_read_reconnects(
    ctx: ServiceContext, open_session: OpenSession, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no connection to lose")
    opened = await open_session()
    token_hash = hash_token(opened.access_token)
    assert ctx.decisions is not None

    def read_after_losing_the_connection(tx: Tx) -> Any:
        pid = int(tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        terminate_backend(database_url, pid)
        return grant_reads.read_grant(tx.conn, token_hash)

    with pytest.raises(DBAPIError) as raised:
        await ctx.decisions.run(read_after_losing_the_connection)
    assert raised.value.connection_invalidated

    found = await ctx.decisions.run(lambda tx: grant_reads.read_grant(tx.conn, token_hash))
    assert found is not None and found.session.id == opened.session.row.id


async def test_a_driver_the_grant_read_does_not_know_gets_sqlalchemys_read(
    ctx: ServiceContext, open_session: OpenSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await open_session()
    monkeypatch.setattr(driver_calls, "DRIVERS", set())
    assert ctx.decisions is not None

    found = await ctx.decisions.run(lambda tx: grant_reads.read_grant(tx.conn, hash_token(opened.access_token)))

    assert found is not None and found.session.id == opened.session.row.id
