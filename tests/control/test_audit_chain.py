"""The audit trail as evidence (control.services.audit, audit_queries, audit_retention): one hash
chain per tenant that survives concurrent writers and retention, tampering that verification
names, and reads that a tenant key cannot take beyond its own tenant."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from control.db import pages
from control.db.models import AuditChainHead, AuditEvent, Storage, Tenant
from control.services.periodic import run_periodically
from control.services import (
    audit,
    audit_queries,
    audit_retention,
    storages,
    tenants,
    validation,
    wopi_access,
    wopi_changes,
)
from control.services.audit_queries import AuditFilter
from control.services.context import Principal, ServiceContext
from control.services.tenants import TenantSettings
from control.services.wopi_changes import Staged, WriteRequest
from shared.wopi_operation import WopiOperation
from shared.errors import AccessTokenInvalid, InvalidArgument, LockConflict, TenantNotFound, WopiProxyError
from tests.control.helpers import OTHER_TENANT, START_MS, TENANT, FakeClock, OpenSession, caller

DAY_S = 24 * 3600


async def rows(ctx: ServiceContext, tenant_id: str | None = TENANT) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id if tenant_id is not None
                                     else col(AuditEvent.tenant_id).is_(None))
    async with ctx.sessions() as db:
        return list((await db.exec(query.order_by(col(AuditEvent.id)))).all())


async def sql(ctx: ServiceContext, statement: str, **params: object) -> None:
    """Tampering as someone with database access would: behind the services' back."""
    async with ctx.transaction() as db:
        await (await db.connection()).execute(text(statement), params)


async def verify(ctx: ServiceContext, admin: Principal, tenant_id: str = "") -> audit_queries.ChainReport:
    return await audit_queries.verify_chains(ctx, admin, tenant_id=tenant_id)


async def some_activity(ctx: ServiceContext, open_session: OpenSession, clock: FakeClock) -> None:
    """Control-plane changes and WOPI requests, granted and refused."""
    opened = await open_session()
    file_caller = caller(opened, client_address="192.0.2.9", correlation_id="corr", editor="Tester")
    for operation in ("CheckFileInfo", "GetFile"):
        await wopi_access.authorize(ctx, file_caller, operation=operation)
        clock.advance(seconds=1)
    await wopi_access.authorize(ctx, file_caller, operation="Lock", lock_id="L1")
    await wopi_changes.commit(ctx, file_caller, intent_id=(await wopi_changes.begin(ctx, file_caller, WriteRequest(
        operation=WopiOperation.PUT_FILE, lock_id="L1", staged=Staged(size=5)))).intent_id)
    with pytest.raises(LockConflict):
        await wopi_access.authorize(ctx, file_caller, operation="Lock", lock_id="L2")
    with pytest.raises(AccessTokenInvalid):
        await wopi_access.authorize(ctx, caller(opened, access_token="not-a-token"), operation="GetFile")
    await wopi_access.authorize(ctx, file_caller, operation="Unlock", lock_id="L1")


# -- the canonical form -------------------------------------------------------------------------


def test_the_canonical_form_is_stable() -> None:
    """Exported trails are checked against this form: changing it breaks every existing chain."""
    event = AuditEvent(id=7, time=START_MS, tenant_id="acme", actor="user:u-1", session_id="ses_1", file_id="f1",
                       operation="PutFile", outcome="ok", status=200, size=5, version_before=1, version_after=2,
                       lock_hash="abc", editor="Édith", client_address="192.0.2.1", correlation_id="c1",
                       detail="d", previous_hash="")

    assert audit.canonical(event) == (
        b'{"actor":"user:u-1","client_address":"192.0.2.1","correlation_id":"c1","detail":"d",'
        b'"editor":"\\u00c9dith","file_id":"f1","lock_hash":"abc","operation":"PutFile","outcome":"ok",'
        b'"previous_hash":"","session_id":"ses_1","size":5,"status":200,"tenant_id":"acme","time":1700000000000,'
        b'"v":1,"version_after":2,"version_before":1}')
    assert audit.canonical(AuditEvent(time=1, actor="a", operation="o", outcome="ok", size=None)) == \
        audit.canonical(AuditEvent(time=1, actor="a", operation="o", outcome="ok", size=0, tenant_id=""))


# -- appending ----------------------------------------------------------------------------------


async def test_the_chain_is_intact_after_many_operations(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, globex: Tenant
) -> None:
    await some_activity(ctx, open_session, clock)

    report = await verify(ctx, admin)

    everything = await rows(ctx) + await rows(ctx, OTHER_TENANT) + await rows(ctx, None)
    assert (report.ok, report.reason, report.checked) == (True, "", len(everything))
    acme = await rows(ctx)
    assert acme[0].previous_hash == ""
    assert [r.previous_hash for r in acme[1:]] == [r.hash for r in acme[:-1]]


async def test_each_tenant_has_its_own_chain_and_head(
    ctx: ServiceContext, open_session: OpenSession, clock: FakeClock, globex: Tenant
) -> None:
    await some_activity(ctx, open_session, clock)

    async with ctx.sessions() as db:
        heads = {h.tenant_id: h for h in (await db.exec(select(AuditChainHead))).all()}
    for chain, tenant_rows in (("", await rows(ctx, None)), (TENANT, await rows(ctx)),
                               (OTHER_TENANT, await rows(ctx, OTHER_TENANT))):
        assert tenant_rows[0].previous_hash == ""
        assert (heads[chain].last_event_id, heads[chain].last_hash) == (tenant_rows[-1].id, tenant_rows[-1].hash)


async def test_wopi_records_carry_status_versions_lock_hash_and_editor(
    ctx: ServiceContext, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)

    by_operation: dict[tuple[str, str], AuditEvent] = {}
    for row in await rows(ctx):
        by_operation.setdefault((row.operation, row.outcome), row)
    lock = by_operation[("Lock", "ok")]
    assert (lock.status, lock.lock_hash, lock.version_before, lock.version_after) == (
        200, audit.lock_digest("L1"), 1, 1)
    assert (lock.editor, lock.client_address, lock.correlation_id) == ("Tester", "192.0.2.9", "corr")
    read = by_operation[("GetFile", "ok")]
    assert (read.status, read.version_before, read.version_after) == (0, 1, 1)  # the edge answers after storage
    write = by_operation[("PutFile", "ok")]
    assert (write.status, write.size, write.version_before, write.version_after, write.lock_hash) == (
        200, 5, 1, 2, audit.lock_digest("L1"))
    conflict = by_operation[("Lock", "conflict")]
    assert (conflict.status, conflict.actor, conflict.lock_hash) == (409, "user:u-1", audit.lock_digest("L1"))
    assert "LOCK_CONFLICT" in conflict.detail


async def test_a_refusal_with_an_unknown_token_goes_to_the_deployment_chain(
    ctx: ServiceContext, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)

    [denied] = [r for r in await rows(ctx, None) if r.operation == "GetFile"]
    assert (denied.actor, denied.outcome, denied.status, denied.session_id) == ("token", "denied", 401, None)


async def test_concurrent_appends_keep_one_chain_per_tenant(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, globex: Tenant, docs: Storage
) -> None:
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name="docs", protocol="file",
                                  root=docs.root, options={})
    acme_session = await open_session()
    globex_session = await open_session(tenant_id=OTHER_TENANT)
    before = {chain: len(await rows(ctx, chain)) for chain in (TENANT, OTHER_TENANT, None)}
    calls = (
        [wopi_access.authorize(ctx, caller(acme_session), operation="GetFile") for _ in range(20)]
        + [wopi_access.authorize(ctx, caller(acme_session), operation="Lock", lock_id=f"L{i}") for i in range(10)]
        + [wopi_access.authorize(ctx, caller(globex_session), operation="CheckFileInfo") for _ in range(10)]
        + [wopi_access.authorize(ctx, caller(acme_session, access_token=f"bad-{i}"), operation="GetFile")
           for i in range(10)]
    )

    results = await asyncio.gather(*calls, return_exceptions=True)

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, WopiProxyError)]
    assert unexpected == []
    after = {chain: len(await rows(ctx, chain)) for chain in (TENANT, OTHER_TENANT, None)}
    assert {c: after[c] - before[c] for c in after} == {TENANT: 30, OTHER_TENANT: 10, None: 10}
    report = await verify(ctx, admin)
    assert (report.ok, report.reason) == (True, "")
    for chain in (TENANT, OTHER_TENANT, None):
        chained = await rows(ctx, chain)
        assert [r.previous_hash for r in chained[1:]] == [r.hash for r in chained[:-1]], chain


# -- tampering ----------------------------------------------------------------------------------


async def _middle(ctx: ServiceContext) -> tuple[AuditEvent, AuditEvent]:
    chained = await rows(ctx)
    middle = len(chained) // 2
    return chained[middle], chained[middle + 1]


async def test_an_edited_record_is_named(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    victim, _ = await _middle(ctx)

    await sql(ctx, "UPDATE audit_events SET detail = 'nothing happened' WHERE id = :id", id=victim.id)

    report = await verify(ctx, admin)
    assert (report.ok, report.broken_tenant_id, report.broken_event_id) == (False, TENANT, victim.id)
    assert report.reason.startswith("hash mismatch")


async def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    victim, following = await _middle(ctx)
    victim.outcome = "ok"
    victim.detail = "nothing happened"

    await sql(ctx, "UPDATE audit_events SET detail = :detail, outcome = 'ok', hash = :hash WHERE id = :id",
              detail=victim.detail, hash=audit.compute_hash(victim), id=victim.id)

    report = await verify(ctx, admin, TENANT)
    assert (report.ok, report.broken_event_id) == (False, following.id)
    assert report.reason.startswith("previous_hash does not match the record before it")


async def test_a_removed_record_is_detected(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    victim, following = await _middle(ctx)

    await sql(ctx, "DELETE FROM audit_events WHERE id = :id", id=victim.id)

    report = await verify(ctx, admin)
    assert (report.ok, report.broken_tenant_id, report.broken_event_id) == (False, TENANT, following.id)
    assert "record is missing (gap)" in report.reason


async def test_a_removed_last_record_is_named(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    last = (await rows(ctx))[-1]

    await sql(ctx, "DELETE FROM audit_events WHERE id = :id", id=last.id)

    report = await verify(ctx, admin)
    assert (report.ok, report.broken_event_id) == (False, last.id)
    assert report.reason.startswith("record missing (gap)")


async def test_a_removed_chain_head_is_detected(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    """Someone with database access deletes a tenant's chain head: its records are then in no
    chain, which verification names (the head is not what says a chain exists)."""
    await some_activity(ctx, open_session, clock)
    first = (await rows(ctx))[0]

    await sql(ctx, "DELETE FROM audit_chain_heads WHERE tenant_id = :tenant", tenant=TENANT)

    for report in (await verify(ctx, admin), await verify(ctx, admin, tenant_id=TENANT)):
        assert (report.ok, report.broken_tenant_id) == (False, TENANT)
        assert report.broken_event_id >= first.id
        assert "not in the chain" in report.reason


async def test_a_record_added_behind_the_chains_back_is_named(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    last = (await rows(ctx))[-1]
    forged = AuditEvent(time=START_MS, tenant_id=TENANT, actor="user:u-1", operation="GetFile", outcome="ok",
                        previous_hash=last.hash)
    forged.hash = audit.compute_hash(forged)
    async with ctx.transaction() as db:
        db.add(forged)

    report = await verify(ctx, admin)
    assert (report.ok, report.broken_event_id) == (False, forged.id)
    assert report.reason.startswith("record not in the chain")


async def test_the_first_broken_record_is_reported_across_chains(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    first, second = (await rows(ctx))[1], (await rows(ctx, None))[-1]

    await sql(ctx, "UPDATE audit_events SET actor = 'someone' WHERE id IN (:a, :b)", a=first.id, b=second.id)

    report = await verify(ctx, admin)
    assert report.broken_event_id == min(first.id or 0, second.id or 0)


# -- reading: scope, filters, pages -------------------------------------------------------------


async def test_a_tenant_key_reads_only_its_own_tenant(
    ctx: ServiceContext, acme_key: Principal, globex_key: Principal, open_session: OpenSession, clock: FakeClock,
    globex: Tenant,
) -> None:
    await some_activity(ctx, open_session, clock)

    own, _ = await audit_queries.list_events(ctx, acme_key, where=AuditFilter(), page_size=1000, page_token="")
    named, _ = await audit_queries.list_events(ctx, acme_key, where=AuditFilter(tenant_id=TENANT), page_size=1000,
                                               page_token="")
    others, _ = await audit_queries.list_events(ctx, globex_key, where=AuditFilter(), page_size=1000,
                                                page_token="")

    assert [r.id for r in own] == [r.id for r in named] == [r.id for r in await rows(ctx)]
    assert {r.tenant_id for r in others} == {OTHER_TENANT}
    for foreign in (OTHER_TENANT, "no-such-tenant"):
        with pytest.raises(TenantNotFound):
            await audit_queries.list_events(ctx, acme_key, where=AuditFilter(tenant_id=foreign), page_size=0,
                                            page_token="")
        with pytest.raises(TenantNotFound):
            await audit_queries.verify_chains(ctx, acme_key, tenant_id=foreign)


async def test_a_tenant_key_verifies_only_its_own_chain(
    ctx: ServiceContext, admin: Principal, acme_key: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    deployment = (await rows(ctx, None))[-1]
    await sql(ctx, "UPDATE audit_events SET detail = 'x' WHERE id = :id", id=deployment.id)

    own = await audit_queries.verify_chains(ctx, acme_key, tenant_id="")
    everything = await verify(ctx, admin)

    assert (own.ok, own.checked) == (True, len(await rows(ctx)))
    assert (everything.ok, everything.broken_tenant_id, everything.broken_event_id) == (False, "", deployment.id)


async def test_the_admin_reads_every_tenant_or_the_one_named(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, globex: Tenant
) -> None:
    await some_activity(ctx, open_session, clock)

    everything, _ = await audit_queries.list_events(ctx, admin, where=AuditFilter(), page_size=1000, page_token="")
    acme, _ = await audit_queries.list_events(ctx, admin, where=AuditFilter(tenant_id=TENANT), page_size=1000,
                                              page_token="")

    assert {r.tenant_id for r in everything} == {None, TENANT, OTHER_TENANT}
    assert [r.id for r in acme] == [r.id for r in await rows(ctx)]


async def _ids(ctx: ServiceContext, principal: Principal, **where: object) -> list[int | None]:
    found, _ = await audit_queries.list_events(ctx, principal, where=AuditFilter(**where),  # type: ignore[arg-type]
                                               page_size=1000, page_token="")
    return [r.id for r in found]


async def test_every_filter_narrows_the_list(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    other = await open_session(user_id="u-2", path="folder/sheet.xlsx")
    await wopi_access.authorize(ctx, caller(other), operation="GetFile")
    everything = await rows(ctx)
    first = next(r for r in everything if r.session_id and r.session_id != other.session.row.id)

    def expected(keep: object) -> list[int | None]:
        return [r.id for r in everything if keep(r)]  # type: ignore[operator]

    assert await _ids(ctx, admin, tenant_id=TENANT, session_id=first.session_id) == expected(
        lambda r: r.session_id == first.session_id)
    assert await _ids(ctx, admin, file_id=other.session.row.file_id) == expected(
        lambda r: r.file_id == other.session.row.file_id)
    assert await _ids(ctx, admin, user_id="u-2") == expected(lambda r: r.actor == "user:u-2") != []
    assert await _ids(ctx, admin, operation="Lock") == expected(lambda r: r.operation == "Lock")
    assert await _ids(ctx, admin, tenant_id=TENANT, outcome="conflict") == expected(
        lambda r: r.outcome == "conflict") != []
    assert await _ids(ctx, admin, tenant_id=TENANT, start_time=START_MS + 1000, end_time=START_MS + 2000) == \
        expected(lambda r: START_MS + 1000 <= r.time < START_MS + 2000) != []


async def test_pages_follow_each_other_oldest_first(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    seen: list[int | None] = []
    token = ""
    while True:
        page, token = await audit_queries.list_events(ctx, admin, where=AuditFilter(tenant_id=TENANT),
                                                      page_size=3, page_token=token)
        assert len(page) <= 3
        seen += [r.id for r in page]
        if not token:
            break

    assert seen == [r.id for r in await rows(ctx)] == sorted(seen)


@pytest.mark.parametrize("where, page_size, page_token", [
    (AuditFilter(outcome="maybe"), 0, ""),
    (AuditFilter(start_time=START_MS, end_time=START_MS), 0, ""),
    (AuditFilter(start_time=(1 << 62) * 1000), 0, ""),  # a well-formed Timestamp no database integer holds
    (AuditFilter(end_time=validation.MAX_TIME_MS + 1), 0, ""),
    (AuditFilter(start_time=-1), 0, ""),
    (AuditFilter(user_id="u\x00"), 0, ""),
    (AuditFilter(), -1, ""),
    (AuditFilter(), 0, "not-a-token"),
    (AuditFilter(), 0, "ImEi"),  # a valid token of another list (a string, not an id)
])
async def test_bad_filters_and_pages_are_invalid_arguments(
    ctx: ServiceContext, admin: Principal, where: AuditFilter, page_size: int, page_token: str
) -> None:
    with pytest.raises(InvalidArgument):
        await audit_queries.list_events(ctx, admin, where=where, page_size=page_size, page_token=page_token)


# -- retention ----------------------------------------------------------------------------------


async def _set_retention(ctx: ServiceContext, admin: Principal, days: int) -> None:
    await tenants.update_tenant(ctx, admin, tenant_id=TENANT, paths=["settings.audit_retention_days"], name=None,
                                enabled=None, settings=TenantSettings(audit_retention_days=days))


async def test_retention_removes_old_records_and_keeps_the_chain_verifiable(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, globex: Tenant
) -> None:
    await some_activity(ctx, open_session, clock)
    old = await rows(ctx)
    globex_rows = await rows(ctx, OTHER_TENANT)
    clock.advance(seconds=10 * DAY_S)
    await some_activity(ctx, open_session, clock)
    await _set_retention(ctx, admin, 5)
    recent = [r.id for r in await rows(ctx) if r.id not in {o.id for o in old}]

    removed = await audit_retention.purge_expired(ctx)

    assert removed == {TENANT: len(old)}
    left = await rows(ctx)
    assert [r.id for r in left[:-1]] == recent
    assert (left[-1].operation, left[-1].actor) == ("PurgeAuditEvents", "system:retention")
    assert [r.id for r in await rows(ctx, OTHER_TENANT)] == [r.id for r in globex_rows]
    assert (await verify(ctx, admin)).ok
    # Later appends and later purges extend the same chain.
    await some_activity(ctx, open_session, clock)
    assert await audit_retention.purge_expired(ctx) == {TENANT: 0}
    clock.advance(seconds=6 * DAY_S)
    assert (await audit_retention.purge_expired(ctx))[TENANT] > 0
    report = await verify(ctx, admin, TENANT)
    assert (report.ok, report.reason) == (True, "")


async def test_retention_may_remove_a_whole_chain(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    await _set_retention(ctx, admin, 1)
    clock.advance(seconds=2 * DAY_S)

    await audit_retention.purge_expired(ctx)

    [left] = await rows(ctx)
    assert left.operation == "PurgeAuditEvents"
    assert (await verify(ctx, admin)).ok


async def test_a_tenant_without_retention_keeps_everything(
    ctx: ServiceContext, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    clock.advance(seconds=3650 * DAY_S)

    assert await audit_retention.purge_expired(ctx) == {}
    assert len(await rows(ctx)) > 5


async def test_tampering_before_the_anchor_cannot_hide_after_a_purge(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    clock.advance(seconds=10 * DAY_S)
    await some_activity(ctx, open_session, clock)
    await _set_retention(ctx, admin, 5)
    await audit_retention.purge_expired(ctx)
    first = (await rows(ctx))[0]

    await sql(ctx, "DELETE FROM audit_events WHERE id = :id", id=first.id)

    report = await verify(ctx, admin)
    assert (report.ok, report.broken_tenant_id) == (False, TENANT)
    assert "removed by retention" in report.reason


async def test_the_retention_task_purges_and_stops(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock
) -> None:
    await some_activity(ctx, open_session, clock)
    await _set_retention(ctx, admin, 1)
    clock.advance(seconds=2 * DAY_S)
    stop = asyncio.Event()

    task = asyncio.create_task(run_periodically("audit retention", 3600, stop,
                                               lambda: audit_retention.purge_expired(ctx)))
    for _ in range(200):
        if [r.operation for r in await rows(ctx)] == ["PurgeAuditEvents"]:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)

    assert [r.operation for r in await rows(ctx)] == ["PurgeAuditEvents"]


@pytest.mark.parametrize("last_id", [1 << 63, -(1 << 63) - 1], ids=["past-int64", "below-int64"])
async def test_a_page_token_past_the_id_columns_range_is_invalid_argument(
    ctx: ServiceContext, admin: Principal, last_id: int
) -> None:
    """It used to reach the database driver, which refused it as an internal error."""
    with pytest.raises(InvalidArgument) as raised:
        await audit_queries.list_events(ctx, admin, where=AuditFilter(), page_size=10, page_token=pages.encode(last_id))
    assert raised.value.field == "page_token"
