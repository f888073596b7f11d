"""Requests without a valid access token, audited in aggregate: one record per client address,
audit chain and window (a minute by default) carrying the count, never one record per request.

Why: a flood of made-up tokens would otherwise append one audit record per request (a hash-chain
append, which serialises on the chain's head). The edge rate-limits such requests per address
(edge/wopi/flood.py); what still reaches the control plane is counted here, and so is what the
edge refused on its own (ReportEdgeRefusals: its 429s and its token-less 401s). A refusal whose
token names a session (expired, closed, for another file) is counted in that session's tenant's
chain, so the tenant still sees it; an unknown token is counted in the deployment's chain.

Durability: the counts live in this process's memory until their window closes, then one
transaction writes the window's records (a clean stop writes the open windows too). A crash
loses at most the counts of the open window: refused requests changed nothing, so no state and
no tenant data are lost with them, only part of a tally. Edge reports are counted in the window
open when they arrive (the edge reports every few seconds). Several control-plane processes each
write their own record for the same address and window. Memory is bounded: past MAX_KEYS
(address, chain) pairs in a window, further addresses are counted under OVERFLOW_ADDRESS.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from control.db import availability, stores
from control.services import audit, validation
from control.services.access_tokens import hash_token
from shared.timefmt import iso_utc

if TYPE_CHECKING:
    from control.services.context import ServiceContext

log = logging.getLogger(__name__)

OPERATION = "InvalidTokenRequests"
ACTOR = "token"
MAX_KEYS = 10_000
OVERFLOW_ADDRESS = "(other addresses)"
MAX_ADDRESS_LENGTH = 64


@dataclass
class Tally:
    """What one address sent in one window, by who refused it."""

    refused: int = 0  # refused here (unknown, expired or closed token)
    rate_limited: int = 0  # answered 429 by an edge
    missing_token: int = 0  # answered 401 by an edge, without a token to check
    operations: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.refused + self.rate_limited + self.missing_token

    def detail(self, window_start_ms: int, window_s: float) -> str:
        operations = ",".join(f"{name}:{n}" for name, n in sorted(self.operations.items()))
        return (f"count={self.total} refused={self.refused} rate_limited={self.rate_limited} "
                f"missing_token={self.missing_token} window_start={iso_utc(window_start_ms / 1000)} "
                f"window_s={window_s:g}" + (f" operations={operations}" if operations else ""))


Key = tuple[int, str, str]  # (window start ms, chain tenant id or "", client address)


class InvalidTokenTally:
    """Counts per (window, chain, address); `run` writes each window's records once it closes."""

    def __init__(self, window_s: float = 60.0) -> None:
        if window_s <= 0:
            raise ValueError("the invalid-token audit window must be positive")
        self.window_s = window_s
        self._window_ms = max(1, int(window_s * 1000))
        self._counts: dict[Key, Tally] = {}

    def _tally(self, now_ms: int, tenant_id: str, address: str) -> Tally:
        window = now_ms - now_ms % self._window_ms
        address = validation.printable(address, MAX_ADDRESS_LENGTH) or "-"
        key = (window, tenant_id, address)
        if key not in self._counts and len(self._counts) >= MAX_KEYS:
            key = (window, "", OVERFLOW_ADDRESS)
        return self._counts.setdefault(key, Tally())

    async def count_refusal(self, ctx: ServiceContext, *, access_token: str, client_address: str,
                            operation: str) -> None:
        """One request the control plane refused for its token (instead of one audit record)."""
        async with ctx.sessions() as db:
            session = await stores.session_by_token_hash(db, token_hash=hash_token(access_token))
        tally = self._tally(ctx.clock(), session.tenant_id if session else "", client_address)
        tally.refused += 1
        tally.operations[validation.printable(operation, 32)] += 1

    def count_edge(self, now_ms: int, *, client_address: str, rate_limited: int, missing_token: int) -> None:
        """Requests an edge refused on its own since its last report."""
        tally = self._tally(now_ms, "", client_address)
        tally.rate_limited += rate_limited
        tally.missing_token += missing_token

    async def flush(self, ctx: ServiceContext, *, everything: bool = False) -> int:
        """Writes the records of the closed windows (with `everything`, of all); returns how many."""
        now = ctx.clock()
        due = [key for key in self._counts if everything or key[0] + self._window_ms <= now]
        if not due:
            return 0
        tallies = {key: self._counts.pop(key) for key in due}
        try:
            async with ctx.transaction() as db:
                for (window, tenant_id, address), tally in sorted(tallies.items()):
                    await audit.record(db, time=now, actor=ACTOR, operation=OPERATION, outcome="denied",
                                       status=401, tenant_id=tenant_id or None, client_address=address,
                                       detail=tally.detail(window, self.window_s))
        except BaseException:
            for key, tally in tallies.items():  # not written: counted again in the next round
                self._merge(key, tally)
            raise
        return len(tallies)

    def _merge(self, key: Key, tally: Tally) -> None:
        current = self._counts.setdefault(key, Tally())
        current.refused += tally.refused
        current.rate_limited += tally.rate_limited
        current.missing_token += tally.missing_token
        current.operations.update(tally.operations)

    async def run(self, ctx: ServiceContext, stop: asyncio.Event) -> None:
        """The control plane's background task (see control.server); writes the open windows on stop."""
        tick = min(5.0, self.window_s / 4)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), tick)
            except TimeoutError:
                pass
            try:
                await self.flush(ctx, everything=stop.is_set())
            except Exception as error:  # a failed round must not end the tally; its counts wait for the next
                availability.log_failure(log, "writing the invalid-token audit records", error)
