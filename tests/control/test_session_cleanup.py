"""CleanupSessions and the EXPIRED state, on the services with an injected clock: `serve` has no
clock hook and the shortest TTL is a minute, so tests/e2e/test_sessions_api.py cannot reach expiry."""

from __future__ import annotations

from pathlib import Path

import pytest

from control.db.models import Tenant
from control.services import audit_queries, events, sessions, storages
from control.services.audit_queries import AuditFilter
from control.services.context import Principal, ServiceContext
from tests.control.helpers import OTHER_TENANT, STORAGE, TENANT, FakeClock, OpenSession


async def _events(ctx: ServiceContext, tenant_id: str = TENANT) -> list[tuple[str, str]]:
    async with ctx.sessions() as db:
        rows = await events.after(db, tenant_id=tenant_id, event_id=0)
    return [(row.type, row.session_id) for row in rows]


async def _state(ctx: ServiceContext, admin: Principal, session_id: str) -> str:
    return (await sessions.get_session(ctx, admin, session_id=session_id)).state


async def test_dry_run_lists_expired_sessions_without_changing_them(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    short = (await open_session(ttl_seconds=60)).session.row.id
    await open_session(ttl_seconds=3600)
    clock.advance(seconds=61)
    events_before = await _events(ctx)

    listed = await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=True)

    assert [(v.row.id, v.state) for v in listed] == [(short, "expired")]
    got = await sessions.get_session(ctx, admin, session_id=short)
    assert got.row.close_time is None
    assert await _events(ctx) == events_before
    again = await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=True)
    assert [v.row.id for v in again] == [short]


async def test_a_real_run_ends_expired_sessions_as_expired(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    short = (await open_session(ttl_seconds=60)).session.row
    long = (await open_session(ttl_seconds=3600)).session.row.id
    clock.advance(seconds=61)

    ended = await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False)

    assert [(v.row.id, v.state) for v in ended] == [(short.id, "expired")]
    got = await sessions.get_session(ctx, admin, session_id=short.id)
    assert (got.state, got.row.close_time) == ("expired", short.expire_time)
    assert await _state(ctx, admin, long) == "open"


async def test_a_real_run_emits_one_expired_event_per_session(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    first = (await open_session(ttl_seconds=60)).session.row.id
    second = (await open_session(ttl_seconds=90)).session.row.id
    clock.advance(seconds=91)

    await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False)

    assert [e for e in await _events(ctx) if e[0] == "expired"] == [("expired", first), ("expired", second)]


async def test_a_second_real_run_finds_nothing_and_emits_nothing(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    await open_session(ttl_seconds=60)
    clock.advance(seconds=61)
    await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False)
    events_after_first = await _events(ctx)

    assert await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False) == []
    assert await _events(ctx) == events_after_first


async def test_a_session_closed_before_its_expiry_stays_closed(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    closed = (await open_session(ttl_seconds=60)).session.row.id
    await sessions.close_session(ctx, admin, session_id=closed)
    clock.advance(seconds=61)

    assert await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False) == []
    assert await _state(ctx, admin, closed) == "closed"


async def test_an_expired_session_is_listed_as_expired_before_and_after_cleanup(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    short = (await open_session(ttl_seconds=60)).session.row.id
    long = (await open_session(ttl_seconds=3600)).session.row.id
    clock.advance(seconds=61)

    async def listed(state: str) -> list[str]:
        views, _ = await sessions.list_sessions(ctx, admin, tenant_id=TENANT, page_size=0, page_token="",
                                                state=state)
        return [v.row.id for v in views]

    assert (await listed("expired"), await listed("open")) == ([short], [long])
    await sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False)
    assert (await listed("expired"), await listed("open"), await listed("closed")) == ([short], [long], [])


async def test_a_tenant_key_cleans_up_only_its_own_tenant(
    ctx: ServiceContext, admin: Principal, acme_key: Principal, clock: FakeClock, open_session: OpenSession,
    globex: Tenant, storage_root: Path,
) -> None:
    await storages.create_storage(ctx, admin, tenant_id=OTHER_TENANT, name=STORAGE, protocol="file",
                                  root=str(storage_root), options={})
    ours = (await open_session(ttl_seconds=60)).session.row.id
    theirs = (await open_session(tenant_id=OTHER_TENANT, ttl_seconds=60)).session.row.id
    clock.advance(seconds=61)

    ended = await sessions.cleanup_sessions(ctx, acme_key, tenant_id="", dry_run=False)

    assert [v.row.id for v in ended] == [ours]
    theirs_now = await sessions.get_session(ctx, admin, session_id=theirs)
    assert theirs_now.row.close_time is None
    assert ("expired", theirs) not in await _events(ctx, OTHER_TENANT)


async def test_a_cleanup_of_many_sessions_ends_them_in_transactions_of_a_bounded_size(
    ctx: ServiceContext, admin: Principal, acme_key: Principal, clock: FakeClock, open_session: OpenSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tenant may hold 10,000 open sessions: ended in one transaction, they held SQLite's write
    lock (every tenant's WOPI writes) for seconds. Each batch is filed in the trail on its own."""
    monkeypatch.setattr(sessions, "CLEANUP_BATCH", 2)
    opened = [(await open_session(ttl_seconds=60)).session.row.id for _ in range(5)]
    clock.advance(seconds=61)

    ended = await sessions.cleanup_sessions(ctx, acme_key, tenant_id="", dry_run=False)

    assert sorted(v.row.id for v in ended) == sorted(opened)
    assert [await _state(ctx, admin, session_id) for session_id in opened] == ["expired"] * 5
    rows, _ = await audit_queries.list_events(ctx, acme_key, where=AuditFilter(operation="CleanupSessions"),
                                              page_size=100, page_token="")
    assert sorted(row.detail for row in rows) == ["expired=1", "expired=2", "expired=2"]
