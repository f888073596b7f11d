"""Job leases (control.services.leases) on SQLite and PostgreSQL: one holder at a time, taken
over only after expiry (the database's clock) or release."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import update
from sqlmodel import col

from control.db import replica_store
from control.db.models import Lease
from control.services.context import ServiceContext
from control.services.leases import Leases

SHORT_TTL_S = 2.0  # longer than any stall between two takes on a loaded machine


async def test_a_held_lease_is_refused_to_another_holder_until_it_expires(ctx: ServiceContext) -> None:
    first, second = Leases(ctx, holder="a", ttl_s=SHORT_TTL_S), Leases(ctx, holder="b", ttl_s=SHORT_TTL_S)
    assert await first.take("job")
    assert await first.take("job")  # renewal
    assert not await second.take("job")
    deadline = time.monotonic() + 10
    while not await second.take("job"):
        assert time.monotonic() < deadline, "the expired lease was never taken over"
        await asyncio.sleep(0.05)
    assert not await first.take("job")  # the old holder lost it


async def test_a_released_lease_is_taken_at_once(ctx: ServiceContext) -> None:
    first, second = Leases(ctx, holder="a", ttl_s=60), Leases(ctx, holder="b", ttl_s=60)
    assert await first.take("job")
    assert not await second.take("job")
    await first.release("job")
    assert await second.take("job")


async def test_simultaneous_takers_get_the_lease_once(ctx: ServiceContext) -> None:
    takers = [Leases(ctx, holder=f"h{i}", ttl_s=60) for i in range(8)]
    results = await asyncio.gather(*(t.take("contested") for t in takers))
    assert sum(results) == 1, results


async def test_a_job_runs_only_while_its_lease_is_held(ctx: ServiceContext) -> None:
    """The job stops at the renewal that finds another holder (here: one who took the lease by force)."""
    leases = Leases(ctx, holder="a", ttl_s=1.5)
    running = asyncio.Event()
    stopped = asyncio.Event()

    async def job(stop: asyncio.Event) -> None:
        running.set()
        try:
            await stop.wait()
        finally:  # a lost lease cancels the job at once: another replica may run it already
            stopped.set()

    stop = asyncio.Event()
    task = asyncio.create_task(leases.run("job", stop, job))
    await asyncio.wait_for(running.wait(), 10)
    async with ctx.transaction() as db:  # another replica that wrongly took it
        await db.exec(update(Lease).where(col(Lease.name) == "job").values(holder="b", expire_time=2**62))
    await asyncio.wait_for(stopped.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    async with ctx.sessions() as db:
        assert await replica_store.take_lease(db, name="job", holder="c", ttl_ms=1000) is None


async def test_the_change_counter_counts(ctx: ServiceContext) -> None:
    async with ctx.transaction() as db:
        assert await replica_store.read_counter(db, name="auth") == 0
        await replica_store.bump_counter(db, name="auth")
        await replica_store.bump_counter(db, name="auth")
    async with ctx.sessions() as db:
        assert await replica_store.read_counter(db, name="auth") == 2
