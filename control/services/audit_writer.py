"""Group commit of audit records that need no transaction of their own (the grants of reads).

Why: a CheckFileInfo or GetFile changes nothing but the audit trail, yet appending to a chain
locks its head until commit, so each tenant's reads ran one transaction at a time (and on
SQLite, every request of every tenant). Here concurrent requests hand their records to one
writer task that links a whole batch into the chains in one transaction (each head locked once,
hashes computed in order, rows inserted in that order: the chain and `audit verify` are exactly
as before), and each request returns only when the batch holding its record has committed: a
record is durable before the reply that depends on it.

A request whose caller went away or whose deadline passed before its batch begins is left out
of the batch (DeadlineExceeded), as its own transaction would not have committed either. A
failed batch fails every request in it: none of their records was written.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from control.db import audit_sync
from control.services import audit, deadlines
from shared.errors import DeadlineExceeded

if TYPE_CHECKING:
    from control.services.context import ServiceContext

log = logging.getLogger(__name__)

MAX_BATCH = 500  # records per transaction: bounds the transaction's time and size


@dataclass
class _Pending:
    event: audit.AuditRecord
    done: asyncio.Future[None]
    budget: deadlines.Budget | None


class AuditWriter:
    """One per control-plane process; the writer task starts with the first record."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._queue: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writing = False  # a batch is being written

    async def record(self, **fields: Any) -> None:
        """audit.record's fields; returns once the record is committed (raises if it was not)."""
        deadlines.check("audit record")
        loop = asyncio.get_running_loop()
        pending = _Pending(event=audit.new_event(**fields), done=loop.create_future(), budget=deadlines.current())
        self._queue.append(pending)
        self._wake.set()
        if self._task is None or self._task.done():
            # A context of its own: the writer must not inherit this caller's deadline budget.
            self._task = asyncio.create_task(self._run(), name="audit-writer", context=contextvars.Context())
        await asyncio.shield(pending.done)  # a cancelled caller leaves its record to the batch's fate

    async def close(self) -> None:
        """Writes what is queued (and the batch being written), then stops the writer task."""
        while (self._queue or self._writing) and self._task is not None and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        batch: list[_Pending] = []
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    self._writing = True
                    await self._write(batch)
                    self._writing, batch = False, []
        finally:  # cancelled (stopping): nobody may wait forever for a record that was not written
            for pending in batch + self._queue:
                _settle(pending, DeadlineExceeded("the control plane stopped before the audit record was written"))
            self._queue, self._writing = [], False

    async def _write(self, batch: list[_Pending]) -> None:
        live = []
        for pending in batch:
            try:
                if pending.budget is not None:
                    pending.budget.check("audit record")
            except DeadlineExceeded as error:
                _settle(pending, error)
            else:
                live.append(pending)
        if not live:
            return
        records = [p.event for p in live]
        try:
            if self._ctx.decisions is not None:  # one call on the writer thread, Core statements
                await self._ctx.decisions.run(lambda tx: audit_sync.append(tx, records))
            else:
                async with self._ctx.transaction() as db:
                    await audit.append(db, records)
        except Exception as error:  # noqa: BLE001  (every waiting request learns of it)
            log.warning("an audit batch of %d records failed: %s", len(live), error)
            for pending in live:
                _settle(pending, error)
            return
        for pending in live:
            _settle(pending, None)


def _settle(pending: _Pending, error: BaseException | None) -> None:
    if pending.done.done():
        return
    if error is None:
        pending.done.set_result(None)
    else:
        pending.done.set_exception(error)
