"""WatchSessionEvents' promise, "a client that reconnects with the last cursor it saw misses nothing",
when two transactions write events concurrently and commit in the other order than their ids.

Only PostgreSQL can do that: SQLite lets one writer at a time, so its ids follow commit order
(the end-to-end tests in tests/e2e/test_events_and_webhooks.py run on SQLite).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from control.services import events
from control.services.context import Principal, ServiceContext
from tests.control.helpers import TENANT, FakeClock, OpenSession

ONLY_POSTGRESQL = [pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("database_url", ONLY_POSTGRESQL, indirect=True)
async def test_events_of_concurrent_transactions_all_reach_a_watcher(
    ctx: ServiceContext, admin: Principal, clock: FakeClock, open_session: OpenSession
) -> None:
    """Transactions that emit concurrently and commit in a shuffled order: the watcher, which
    moves its cursor past every event it sees, still sees them all (ids follow commit order)."""
    session = (await open_session()).session.row
    stream = events.watch(ctx, admin, tenant_id=TENANT, cursor="0")
    assert (await asyncio.wait_for(anext(stream), 5)).type == "opened"
    seen: list[int] = []

    async def watch() -> None:
        async for row in stream:
            assert row.id is not None
            seen.append(row.id)

    watcher = asyncio.create_task(watch())
    rng = random.Random(7)

    async def emit_and_dawdle(delay: float) -> None:
        async with ctx.transaction() as db:
            await events.emit(db, type="locked", session=session, now=clock())
            await db.flush()
            await asyncio.sleep(delay)

    await asyncio.gather(*(emit_and_dawdle(rng.uniform(0, 0.05)) for _ in range(30)))
    deadline = asyncio.get_running_loop().time() + 10
    while len(seen) < 30 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    watcher.cancel()
    assert len(seen) == 30 and seen == sorted(seen)
