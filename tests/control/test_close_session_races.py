"""CloseSession racing CleanupSessions (or the expiry job) on PostgreSQL: CloseSession locks the
session's row and reads it again, so a session ends once, with one end event (review n)."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from control.db.models import SessionEvent
from control.services import sessions
from control.services.context import Principal, ServiceContext
from tests.control.helpers import FakeClock, OpenSession
from tests.control.test_deleted_records import Gate, _postgres_only, _until_waiting_or_done


async def test_close_session_racing_cleanup_sessions_ends_the_session_once(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, clock: FakeClock, database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _postgres_only(database_url)
    opened = await open_session(ttl_seconds=60)
    clock.advance(seconds=600)
    session_id = opened.session.row.id

    gate = Gate(monkeypatch, sessions, "_lock_chains_in_order", "cleanup")
    cleanup = asyncio.create_task(sessions.cleanup_sessions(ctx, admin, tenant_id="", dry_run=False),
                                  name="cleanup")
    await asyncio.wait_for(gate.reached.wait(), 60)  # it holds the expired row (FOR UPDATE SKIP LOCKED)
    close = asyncio.create_task(sessions.close_session(ctx, admin, session_id=session_id), name="close")
    await _until_waiting_or_done(ctx, close)
    gate.release.set()
    outcomes = await asyncio.wait_for(asyncio.gather(cleanup, close, return_exceptions=True), 60)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes

    async with ctx.sessions() as db:
        ends = (await db.exec(select(SessionEvent.type).where(
            col(SessionEvent.session_id) == session_id, col(SessionEvent.type).in_(["expired", "closed"])))).all()
    assert len(ends) == 1, f"one session ended twice: {list(ends)}"
