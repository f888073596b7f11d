"""Fair shares of the edge's grant calls between tenants, so that one tenant's flood does not
queue another tenant's requests behind it.

Every WOPI request starts with a grant of the control plane. At most `slots` grants are out at
once. A tenant alone may use all but `lead` of them: its throughput is kept, and a tenant that
arrives finds a slot free at once, without waiting for the flood's grants to come back. While
other tenants are active too (a request in the last half second), a tenant may have at most
`lead` grants out beyond what the busiest of the others has; the rest of its requests wait, and a freed slot goes to the waiting
tenant holding the fewest (the longest-waiting one on a tie). The requests that wait cost the edge
nothing until let in, which is what makes room on the edge's event loop for the other tenants'
requests: without the cap every connection of a flood gets as much of the edge as each of another
tenant's few. Tenants that are equally busy are never held back (the lead is over each other),
so many tenants together keep the throughput of one.

The tenant of a request is known only once its grant is back, so the edge remembers, per token
(as a SHA-256 digest, in an LRU of fixed size), the tenant its last grant named. Tokens not granted
yet all queue as one share of their own: made-up tokens cannot add shares to crowd out tenants,
and a new session waits there only for its first grant. The hint only orders the queue: it never
grants or refuses anything, and a wrong one (a token now refused) costs its request a place in a
queue.

Only the grant is gated: a slot is held for one control-plane call with a deadline, never while
bytes stream to or from an editor, so slow editors cannot hold slots.

When a share is held to its lead, the edge logs it (at most once a minute per share), so that an
operator who hears that a tenant is slow can tell the fair share from a slow control plane.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

DEFAULT_GRANT_SLOTS = 64
DEFAULT_GRANT_SLOTS_LEAD = 2
ACTIVE_WINDOW_S = 0.5
MAX_REMEMBERED_TOKENS = 50_000
NEW_TOKENS = "(tokens not granted yet)"
HELD_LOG_INTERVAL_S = 60.0

log = logging.getLogger(__name__)


class TenantHints:
    """Token digest -> the tenant its last grant named; bounded, least recently used first out.
    Keyed on the digest each request already has (edge.wopi.caller): it never sees a token."""

    def __init__(self, max_tokens: int = MAX_REMEMBERED_TOKENS) -> None:
        self._max = max(1, max_tokens)
        self._tenants: OrderedDict[str, str] = OrderedDict()

    def share(self, token_digest: str) -> str:
        """The share a request queues in: the tenant of its token's last grant, else NEW_TOKENS."""
        tenant = self._tenants.get(token_digest)
        return f"tenant:{tenant}" if tenant is not None else NEW_TOKENS

    def learn(self, token_digest: str, tenant_id: str) -> None:
        self._tenants[token_digest] = tenant_id
        self._tenants.move_to_end(token_digest)
        while len(self._tenants) > self._max:
            self._tenants.popitem(last=False)


class FairSlots:
    """A lone share may hold all but `lead` of `slots`; while several are active, each at most
    `lead` beyond the busiest other one."""

    def __init__(self, slots: int, lead: int, *, active_window_s: float = ACTIVE_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if slots < 1 or lead < 1:
            raise ValueError("slots and lead must be at least 1")
        self._slots = slots
        self._lead = lead
        self._window = active_window_s
        self._clock = clock
        self._taken = 0
        self._held: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._seen: OrderedDict[str, float] = OrderedDict()  # share -> last acquire or release
        self._order = itertools.count()
        self._held_logged: dict[str, float] = {}  # share -> when its hold was last logged

    @property
    def taken(self) -> int:
        return self._taken

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    @asynccontextmanager
    async def slot(self, share: str) -> AsyncIterator[None]:
        await self._acquire(share)
        try:
            yield
        finally:
            self._release(share)

    def _cap(self, share: str) -> int:
        if self._active_shares() <= 1:
            return max(1, self._slots - self._lead)  # the rest is a newcomer's
        busiest_other = max((held for other, held in self._held.items() if other != share), default=0)
        return busiest_other + self._lead

    def _active_shares(self) -> int:
        """Shares seen within the window, or holding or waiting for a slot now."""
        stale = self._clock() - self._window
        for _ in range(len(self._seen)):
            share, seen = next(iter(self._seen.items()))
            if seen >= stale:
                break
            if share in self._held or share in self._waiting:
                self._seen.move_to_end(share)  # busy for longer than the window: still active
            else:
                del self._seen[share]
        return len(self._seen)

    def _touch(self, share: str) -> None:
        self._seen[share] = self._clock()
        self._seen.move_to_end(share)

    async def _acquire(self, share: str) -> None:
        self._touch(share)
        if not self._waiting and self._taken < self._slots and self._held.get(share, 0) < self._cap(share):
            self._take(share)
            return
        self._log_if_held(share)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (next(self._order), future)
        self._waiting.setdefault(share, deque()).append(entry)
        self._let_in()  # a share that may go first (it holds fewer) need not wait for a release
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # let in just as its caller went away
                self._release(share)
            else:
                self._forget(share, entry)
            raise

    def _log_if_held(self, share: str) -> None:
        """The share waits because of its cap while others are active (not because every slot is
        taken): said once per HELD_LOG_INTERVAL_S, the shares logged kept no longer than that."""
        active = self._active_shares()
        held = self._held.get(share, 0)
        if active <= 1 or held < self._cap(share):
            return
        now = self._clock()
        if now - self._held_logged.get(share, -HELD_LOG_INTERVAL_S) < HELD_LOG_INTERVAL_S:
            return
        for other, logged in list(self._held_logged.items()):
            if now - logged >= HELD_LOG_INTERVAL_S:
                del self._held_logged[other]
        self._held_logged[share] = now
        log.info("fair shares: %s is held to %d grants out while other shares are active (%d; "
                 "--grant-slots-lead %d): its further requests wait their turn", share, held, active - 1,
                 self._lead)

    def _take(self, share: str) -> None:
        self._taken += 1
        self._held[share] = self._held.get(share, 0) + 1

    def _release(self, share: str) -> None:
        self._touch(share)
        self._taken -= 1
        held = self._held[share] - 1
        if held:
            self._held[share] = held
        else:
            del self._held[share]
        self._let_in()

    def _forget(self, share: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._waiting.get(share)
        if queue is None:
            return
        try:
            queue.remove(entry)
        except ValueError:
            pass
        if not queue:
            del self._waiting[share]
        self._let_in()  # its place may have been what held others back

    def _let_in(self) -> None:
        while self._taken < self._slots and self._waiting:
            share = min(self._waiting, key=lambda s: (self._held.get(s, 0), self._waiting[s][0][0]))
            if self._held.get(share, 0) >= self._cap(share):
                return  # the one holding the fewest is at its cap, so is every other: a release lets one in
            queue = self._waiting[share]
            _, future = queue.popleft()
            if not queue:
                del self._waiting[share]
            if future.done():  # cancelled, its caller not yet woken to forget it
                continue
            self._take(share)
            future.set_result(None)
