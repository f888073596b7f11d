"""VerifyAuditChain's bounds inside the process (control.services.audit_queries): a walk hashes a
few records at a time and lets the event loop's other work run in between, stops when its caller
gives up, and a walk waiting for its turn leaves the queue when its caller does."""

from __future__ import annotations

import asyncio

import pytest

from control.db.models import AuditEvent
from control.services import audit, audit_queries, deadlines
from control.services.context import Principal, ServiceContext
from shared.errors import DeadlineExceeded
from tests.control.helpers import START_MS, TENANT

RECORDS = 3000
# What "a WOPI grant is never held behind more than a couple of milliseconds of hashing" allows
# (a hash takes ~10 us).
MOST_HASHES_BETWEEN_TURNS = 200


@pytest.fixture
async def trail(ctx: ServiceContext) -> None:
    """RECORDS records in the tenant's chain."""
    async with ctx.transaction() as db:
        await audit.append(db, [audit.new_event(time=START_MS + i, actor="user:u-1", operation="GetFile",
                                                outcome="ok", tenant_id=TENANT) for i in range(RECORDS)])


@pytest.fixture
def hashed(trail: None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many hashes the walk has computed so far (counted once the trail is written)."""
    count = [0]
    real = audit.compute_hash

    def counting(event: AuditEvent) -> str:
        count[0] += 1
        return real(event)

    monkeypatch.setattr(audit, "compute_hash", counting)
    return count


async def test_a_walk_lets_other_work_run_between_runs_of_hashes(
        ctx: ServiceContext, acme_key: Principal, hashed: list[int]) -> None:
    seen: list[int] = []  # the hash count each time another coroutine got the loop

    async def ticker() -> None:
        while True:
            seen.append(hashed[0])
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    try:
        report = await audit_queries.verify_chains(ctx, acme_key, tenant_id="")
    finally:
        ticking.cancel()
    seen.append(hashed[0])

    assert (report.ok, report.checked) == (True, RECORDS)
    runs = [after - before for before, after in zip(seen, seen[1:])]
    assert max(runs) <= MOST_HASHES_BETWEEN_TURNS


async def test_a_walk_stops_when_its_caller_goes_away(
        ctx: ServiceContext, acme_key: Principal, hashed: list[int]) -> None:
    with deadlines.budget(None) as budget:
        walking = asyncio.create_task(audit_queries.verify_chains(ctx, acme_key, tenant_id=""))
    while not hashed[0]:
        await asyncio.sleep(0)

    budget.abandoned = True

    with pytest.raises(DeadlineExceeded):
        await walking
    assert hashed[0] <= MOST_HASHES_BETWEEN_TURNS
    assert ctx.audit_verifications.held(TENANT) == 0


async def _waiting_for_its_turn(ctx: ServiceContext, principal: Principal) -> asyncio.Task[audit_queries.ChainReport]:
    """A tenant's verification (with the budget open here) queued behind a walk that holds the
    process's turn."""
    await ctx.audit_walks.acquire()
    waiting = asyncio.create_task(audit_queries.verify_chains(ctx, principal, tenant_id=""))
    while not ctx.audit_verifications.held(TENANT):
        await asyncio.sleep(0)
    return waiting


async def _left(waiting: asyncio.Task[audit_queries.ChainReport]) -> audit_queries.ChainReport:
    """The call's outcome once it has left the queue (a bound, not a synchronisation: a call that
    stays queued would otherwise hang the test)."""
    await asyncio.wait([waiting], timeout=30)
    if not waiting.done():
        waiting.cancel()
        raise AssertionError("the verification still waits for its turn")
    return waiting.result()


async def test_a_verification_waiting_its_turn_leaves_the_queue_when_its_caller_goes_away(
        ctx: ServiceContext, acme_key: Principal) -> None:
    with deadlines.budget(None) as budget:
        waiting = await _waiting_for_its_turn(ctx, acme_key)

    budget.abandoned = True

    with pytest.raises(DeadlineExceeded):
        await _left(waiting)
    assert ctx.audit_verifications.held(TENANT) == 0
    ctx.audit_walks.release()
    assert not ctx.audit_walks.locked()  # the turn did not go to the caller that left


async def test_a_verification_waiting_its_turn_leaves_the_queue_at_its_deadline(
        ctx: ServiceContext, acme_key: Principal) -> None:
    with deadlines.budget(0.2):
        waiting = await _waiting_for_its_turn(ctx, acme_key)

    with pytest.raises(DeadlineExceeded):
        await _left(waiting)
    assert ctx.audit_verifications.held(TENANT) == 0
    ctx.audit_walks.release()
    assert not ctx.audit_walks.locked()
