"""Reading the audit trail: ListAuditEvents and VerifyAuditChain. A tenant key reads only its
own tenant's records; another tenant's id answers like a missing tenant.

Verification is bounded. It recomputes the hash of every record of a chain (millions for a busy
tenant) on the control plane's one event loop, which also decides every tenant's WOPI grants,
and a tenant key is hostile input (ARCHITECTURE.md). So a tenant's keys run one verification at
a time (TenantLimits.audit_verifications; another is RESOURCE_EXHAUSTED at once), the process
walks one chain at a time whoever asked (the others wait their turn, no longer than their
callers do), and a walk hashes HASHES_PER_YIELD records at most between two returns to the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from control.db import audit_store, pages
from control.db.audit_store import EventQuery
from control.db.models import AuditEvent
from control.services import audit, deadlines, validation
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from shared.errors import InvalidArgument, PermissionDenied

MAX_FILTER_LENGTH = 300
# Records per read transaction: loading them into rows holds the loop too (~1 ms per 200).
VERIFY_BATCH = 200
# Records hashed (~10 us each) between two returns to the event loop: a grant waits ~1 ms at most.
HASHES_PER_YIELD = 100
# A purge that runs while a chain is walked moves its anchor; the walk then starts again.
VERIFY_ATTEMPTS = 3


@dataclass(frozen=True)
class AuditFilter:
    """ListAuditEvents' filters; "" and None mean any. Times in ms: [start_time, end_time)."""

    tenant_id: str = ""
    session_id: str = ""
    file_id: str = ""
    user_id: str = ""
    operation: str = ""
    outcome: str = ""
    start_time: int | None = None
    end_time: int | None = None


def _scope(principal: Principal, tenant_id: str) -> str | None:
    """The tenant whose records the caller reads; None: every tenant's (admin only)."""
    if not principal.is_admin:
        if not principal.tenant_id:  # only tenant keys have a chain of their own
            raise PermissionDenied("the audit trail needs an admin or a tenant key")
        if tenant_id:
            require_tenant_visible(principal, tenant_id)
        return principal.tenant_id
    return tenant_id or None


def _checked_text(value: str, field: str) -> str:
    # PostgreSQL refuses NUL in text parameters; an overlong value could never match anyway.
    if len(value) > MAX_FILTER_LENGTH or "\x00" in value:
        raise InvalidArgument(field, f"at most {MAX_FILTER_LENGTH} characters, no NUL")
    return value


def _query(principal: Principal, where: AuditFilter) -> EventQuery:
    for field in ("tenant_id", "session_id", "file_id", "user_id", "operation"):
        _checked_text(getattr(where, field), field)
    if where.outcome and where.outcome not in audit.OUTCOMES:
        raise InvalidArgument("outcome", f"one of {', '.join(audit.OUTCOMES)}")
    validation.time_ms(where.start_time, "start_time")
    validation.time_ms(where.end_time, "end_time")
    if where.start_time is not None and where.end_time is not None and where.end_time <= where.start_time:
        raise InvalidArgument("end_time", "must be after start_time")
    return EventQuery(
        tenant_id=_scope(principal, where.tenant_id), session_id=where.session_id, file_id=where.file_id,
        actor=f"user:{where.user_id}" if where.user_id else "", operation=where.operation, outcome=where.outcome,
        start_time=where.start_time, end_time=where.end_time,
    )


async def list_events(ctx: ServiceContext, principal: Principal, *, where: AuditFilter, page_size: int,
                      page_token: str) -> tuple[Sequence[AuditEvent], str]:
    """Oldest first; the page token is the last id returned."""
    query = _query(principal, where)
    limit = pages.page_size(page_size)
    after = pages.decode_int(page_token)
    async with ctx.sessions() as db:
        rows = await audit_store.list_events(db, where=query, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode(rows[-1].id) if more else ""


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The result of a verification; broken_* name the first broken record when not ok."""

    checked: int
    broken_tenant_id: str = ""
    broken_event_id: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


class _Broken(Exception):
    def __init__(self, event_id: int, reason: str) -> None:
        super().__init__(reason)
        self.event_id = event_id
        self.reason = reason


class _AnchorMoved(Exception):
    """A retention purge ran during the walk."""


async def verify_chains(ctx: ServiceContext, principal: Principal, *, tenant_id: str) -> ChainReport:
    """Checks one chain (a tenant key's own, or the one named) or, for the admin without a tenant,
    every chain; reports the earliest broken record. A tenant key with a verification running
    already is refused (TenantLimitExceeded) before any work."""
    scope = _scope(principal, tenant_id)
    with _slot(ctx, principal):
        if scope is None:
            async with ctx.sessions() as db:
                chains = await audit_store.chain_names(db)
        else:
            chains = [scope]
        checked, broken = 0, []
        for chain in chains:
            report = await verify_chain(ctx, chain)
            checked += report.checked
            if not report.ok:
                broken.append(report)
    if not broken:
        return ChainReport(checked=checked)
    first = min(broken, key=lambda r: r.broken_event_id)
    return ChainReport(checked=checked, broken_tenant_id=first.broken_tenant_id,
                       broken_event_id=first.broken_event_id, reason=first.reason)


def _slot(ctx: ServiceContext, principal: Principal) -> AbstractContextManager[None]:
    """A tenant key's verification holds one of its tenant's slots from before its first read to
    its reply; the operator's admin keys are not capped (their walks still take turns)."""
    if principal.is_admin or not principal.tenant_id:
        return nullcontext()
    return ctx.audit_verifications.hold(principal.tenant_id, ctx.limits.audit_verifications)


async def verify_chain(ctx: ServiceContext, chain: str) -> ChainReport:
    """Walks one chain in id order, recomputing every hash, in short read transactions (a big
    trail must not hold SQLite's lock). Records appended after the walk began are left for the
    next verification; a purge that moves the anchor meanwhile restarts the walk. The walk waits
    for the process's turn (one chain at a time: the hashing is CPU on the shared event loop), and
    gives up when its caller does (DeadlineExceeded), waiting or walking."""
    async with deadlines.turn(ctx.audit_walks, "audit verification's turn"):
        return await _verify_chain(ctx, chain)


async def _verify_chain(ctx: ServiceContext, chain: str) -> ChainReport:
    for attempt in range(VERIFY_ATTEMPTS):
        counter = [0]
        try:
            await _walk(ctx, chain, counter)
        except _AnchorMoved:
            if attempt + 1 < VERIFY_ATTEMPTS:
                continue
            raise
        except _Broken as broken:
            return ChainReport(checked=counter[0], broken_tenant_id=chain, broken_event_id=broken.event_id,
                               reason=broken.reason)
        return ChainReport(checked=counter[0])
    raise AssertionError("unreachable")


async def _walk(ctx: ServiceContext, chain: str, counter: list[int]) -> None:
    async with ctx.sessions() as db:
        head = await audit_store.get_head(db, chain=chain)
    anchor_id, anchor_hash = (head.anchor_event_id, head.anchor_hash) if head else (0, "")
    last_id, last_hash = (head.last_event_id, head.last_hash) if head else (0, "")

    async def broken(event_id: int, reason: str) -> _Broken | _AnchorMoved:
        async with ctx.sessions() as db:
            now = await audit_store.get_head(db, chain=chain)
        if (now.anchor_event_id if now else 0) != anchor_id:
            return _AnchorMoved()
        return _Broken(event_id, reason)

    previous_id, previous_hash = anchor_id, anchor_hash
    cursor = 0  # every record of the chain is walked, even one older than the anchor
    while True:
        async with ctx.sessions() as db:
            batch = await audit_store.chain_batch(db, chain=chain, after_id=cursor, up_to_id=last_id,
                                                  limit=VERIFY_BATCH)
        for index, event in enumerate(batch):
            if index and index % HASHES_PER_YIELD == 0:
                await _pause()
            assert event.id is not None
            counter[0] += 1
            cursor = event.id
            if audit.compute_hash(event) != event.hash:
                raise await broken(event.id, "hash mismatch: the record's content does not match its hash "
                                             "(it was altered)")
            if event.previous_hash != previous_hash:
                raise await broken(event.id, _previous_mismatch(previous_id, anchor_id))
            previous_id, previous_hash = event.id, event.hash
        await _pause()
        if len(batch) < VERIFY_BATCH:
            break
    if previous_id != last_id:
        raise await broken(last_id, f"record missing (gap): the chain's last record #{last_id} is gone")
    if previous_hash != last_hash:
        raise await broken(last_id, "hash mismatch: the chain's last record is not the one its head recorded "
                                    "(it was rewritten)")
    await _check_tail(ctx, chain, last_id)


async def _pause() -> None:
    """Between two runs of hashes: other work on the loop goes first (a WOPI grant waits no longer
    than one run), and a walk whose caller has given up stops here."""
    await asyncio.sleep(0)
    deadlines.check("end of the audit verification")


def _previous_mismatch(previous_id: int, anchor_id: int) -> str:
    if previous_id == 0:
        return ("previous_hash does not match the record before it: this is the chain's first record, yet it "
                "names a predecessor (a record is missing (gap) or was inserted)")
    if previous_id == anchor_id:
        return (f"previous_hash does not match the record before it (#{previous_id}, the last one removed by "
                "retention): a record is missing (gap) or was inserted")
    return (f"previous_hash does not match the record before it (#{previous_id}): a record is missing (gap) "
            "or was inserted")


async def _check_tail(ctx: ServiceContext, chain: str, walked_to: int) -> None:
    """A record after the walked part that the head does not cover was not appended through
    the chain. The record is read before the head: a genuine append commits both together."""
    async with ctx.sessions() as db:
        first_after = await audit_store.first_id_after(db, chain=chain, after_id=walked_to)
        head = await audit_store.get_head(db, chain=chain)
    if first_after is not None and (head is None or first_after > head.last_event_id):
        raise _Broken(first_after, f"record not in the chain: it follows the chain's last record "
                                   f"#{head.last_event_id if head else 0} without being appended to it")
