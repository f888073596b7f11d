"""The bridge worker: an asyncio task in every edge process that leases due bridge work from the
control plane (ClaimBridgeWork), does it (edge/bridge/work.py) and reports each outcome.

It holds no state of its own: a crashed worker's leases expire and another worker redoes the work
(a save that had landed is then found unchanged by its SHA-256). A worker restarted in the same
place (same host name, address and worker number: `worker_name`) does not wait for that: its
first claim lets go of its earlier run's leases, which no live process can hold (the address is
held by the process listening on it). It claims every interval, or at
once when woken (an app reported a change on this edge), runs at most `concurrency` items at a
time, each bounded by its lease, and on shutdown lets the items in flight finish (a bound).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge import work
from edge.bridge.services import BridgeServices
from shared.errors import FailedPrecondition, WopiProxyError

log = logging.getLogger(__name__)

CLAIM_INTERVAL_S = 1.0
CONCURRENCY = 8
ITEM_TIMEOUT_S = 45.0
LEASE_MARGIN_S = 5.0  # finish (and report) this long before the lease ends
MIN_ITEM_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 20.0
MAX_BACKOFF_S = 10.0


def worker_name(host: str, port: int, index: int = 0) -> str:
    """The same whenever an edge starts again in the same place; never two live processes' at once,
    since each holds its listening address (port 0: a new port, so a new name, at every start)."""
    return f"edge-{socket.gethostname()[:60]}-{host}:{port}-{index}"


def worker_id(name: str | None) -> str:
    """"<name>#<run>" (ClaimBridgeWorkRequest.worker_id); without a name, one that no later run
    will recognise as its own."""
    run = secrets.token_hex(4)
    return f"{name}#{run}" if name else f"edge-{socket.gethostname()[:60]}-{os.getpid()}-{run}"


class BridgeWorker:
    def __init__(self, services: BridgeServices, *, name: str | None = None,
                 concurrency: int = CONCURRENCY, interval_s: float = CLAIM_INTERVAL_S,
                 item_timeout_s: float = ITEM_TIMEOUT_S) -> None:
        self._services = services
        self._worker_id = worker_id(name)
        self._first_claim = True  # until a claim succeeds
        self._concurrency = concurrency
        self._interval_s = interval_s
        self._item_timeout_s = item_timeout_s
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="bridge-worker")

    async def stop(self, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Claims nothing more; waits for the items in flight (saves) up to the bound, then cancels
        the rest (their leases expire and another worker redoes them)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._services.wake()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._in_flight:
            log.info("bridge worker stopping: %d item(s) in flight", len(self._in_flight))
            _, pending = await asyncio.wait(set(self._in_flight), timeout=drain_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _loop(self) -> None:
        backoff = 0.0
        wake = self._services.wake_event
        while not self._stopping.is_set():
            wake.clear()
            free = self._concurrency - len(self._in_flight)
            claimed = 0
            if free > 0:
                try:
                    reply = await self._services.control.claim_bridge_work(self._worker_id, free,
                                                                           first_claim=self._first_claim)
                    self._first_claim, backoff = False, 0.0
                except WopiProxyError as error:
                    backoff = min(MAX_BACKOFF_S, max(self._interval_s, backoff * 2))
                    log.warning("bridge worker cannot claim work: %s (next try in %.0f s)", error.message, backoff)
                    reply = edge_pb.ClaimBridgeWorkResponse()
                for item in reply.items:
                    task = asyncio.create_task(self._run(item))
                    self._in_flight.add(task)
                    task.add_done_callback(self._finished)
                claimed = len(reply.items)
            if claimed and claimed == free and not backoff:
                continue  # more may be due: claim again while there is room
            await self._pause(backoff or self._interval_s)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not self._stopping.is_set() and len(self._in_flight) == self._concurrency - 1:
            self._services.wake()  # room again: claim what was left

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._services.wake_event.wait(), seconds)
        except TimeoutError:
            pass

    async def _run(self, item: edge_pb.BridgeWorkItem) -> None:
        document = item.document
        # Bounded by the lease (the control plane's clock: a floor keeps a skewed clock from
        # starving every item; a late report is refused, and the item simply redone).
        remaining = item.lease_expiry / 1000 - time.time() - LEASE_MARGIN_S if item.lease_expiry else self._item_timeout_s
        timeout = max(MIN_ITEM_TIMEOUT_S, min(self._item_timeout_s, remaining))
        try:
            done = await asyncio.wait_for(work.perform(self._services, item.kind, document, item.lease_token), timeout)
        except TimeoutError:
            done = work.failure(document, item.lease_token, TimeoutError(f"{timeout:.0f} s passed"))
        try:
            await self._services.control.complete_bridge_work(done)
        except FailedPrecondition:
            log.info("bridge document %s: lease lost, outcome dropped (another worker owns it)", document.document_id)
        except WopiProxyError as error:
            log.warning("bridge document %s: outcome not recorded (%s); the lease will expire and the work be "
                        "redone", document.document_id, error.message)
        else:
            outcome = edge_pb.BridgeWorkOutcome.Name(done.outcome)
            level = logging.WARNING if done.outcome in (edge_pb.BRIDGE_WORK_OUTCOME_RETRY,
                                                        edge_pb.BRIDGE_WORK_OUTCOME_FAILED,
                                                        edge_pb.BRIDGE_WORK_OUTCOME_CONFLICT) else logging.DEBUG
            log.log(level, "bridge %s of document %s: %s %s", edge_pb.BridgeWorkKind.Name(item.kind),
                    document.document_id, outcome, done.detail)
